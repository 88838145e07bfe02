// The fields of a command worth a line in the emulator's log, so tests can assert the protocol
// flow (which image went where, which region was hashed) without decoding packets themselves.
import { Op, words, type Command } from './protocol';

export function describeCommand(cmd: Command): Record<string, unknown> {
  const w = (n: number): number[] => (cmd.data.length >= n * 4 ? words(cmd.data, n) : []);
  switch (cmd.op) {
    case Op.READ_REG:
      return { addr: w(1)[0] };
    case Op.WRITE_REG:
      return { addr: w(1)[0], value: w(2)[1] };
    case Op.FLASH_BEGIN:
    case Op.FLASH_DEFL_BEGIN: {
      const [size, blocks, blockSize, offset] = w(4);
      return { size, blocks, blockSize, offset };
    }
    case Op.FLASH_DATA:
    case Op.FLASH_DEFL_DATA:
    case Op.MEM_DATA: {
      const [len, seq] = w(2);
      return { len, seq };
    }
    case Op.MEM_BEGIN: {
      const [size, , , offset] = w(4);
      return { size, offset };
    }
    case Op.MEM_END:
    case Op.SPI_FLASH_MD5:
    case Op.ERASE_REGION:
    case Op.READ_FLASH: {
      const [a, b] = w(2);
      return { a, b };
    }
    case Op.CHANGE_BAUDRATE:
      return { baud: w(1)[0] };
    default:
      return {};
  }
}
