// Why a serial port would not open, sorted into the cases a person can act on. The `serialport`
// bindings report errno text only ("Error: No such file or directory, cannot open /dev/ttyUSB0",
// "Error Resource temporarily unavailable Cannot lock port"), so the reason is read from the text.
export type SerialOpenReason = 'not-found' | 'busy' | 'permission' | 'other';

export class SerialPortOpenError extends Error {
  override name = 'SerialPortOpenError';
  constructor(
    readonly path: string,
    readonly reason: SerialOpenReason,
    readonly detail: string,
  ) {
    super(describe(path, reason, detail));
  }
}

function describe(path: string, reason: SerialOpenReason, detail: string): string {
  switch (reason) {
    case 'not-found':
      return `no serial port at ${path}`;
    case 'busy':
      return `serial port ${path} is busy: another program has it open`;
    case 'permission':
      return `no permission to open ${path} (on Linux, add your user to the dialout group)`;
    default:
      return `cannot open ${path}: ${detail}`;
  }
}

export function classifyOpenError(path: string, err: Error): SerialPortOpenError {
  const text = err.message;
  let reason: SerialOpenReason = 'other';
  if (/No such file or directory|ENOENT|cannot find the file/i.test(text)) reason = 'not-found';
  else if (/Cannot lock port|Resource temporarily unavailable|EBUSY|Access denied.*in use|Resource busy/i.test(text)) reason = 'busy';
  else if (/Permission denied|EACCES/i.test(text)) reason = 'permission';
  return new SerialPortOpenError(path, reason, text);
}
