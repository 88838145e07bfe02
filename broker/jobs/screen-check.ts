// A qr.show the device could not draw readably is refused at submit, not failed on the device
// minutes later (docs/architecture.md, Firmware): the QR's modules and the caption line are
// judged against the screen the device announced in its last hello.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { QrShowParams } from '../../protocol/jobs';
import { qrMisfit, type ScreenSize } from '../../protocol/screen-fit';

export function checkFitsScreen(device: string, screen: ScreenSize, p: QrShowParams): void {
  const misfit = qrMisfit(screen, {
    text: p.text,
    caption: p.caption,
    ...(p.amount === undefined ? {} : { amount: p.amount }),
    ...(p.currency === undefined ? {} : { currency: p.currency }),
  });
  if (misfit !== null) throw new ProtocolError(ErrorCode.BAD_PARAMS, `device ${device}: ${misfit.reason}`, misfit.field);
}
