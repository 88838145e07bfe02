// The screen each device announced in its last hello, kept in its registry row (`devices.screen`,
// `<width>x<height>`) so every node checks a qr.show against it, also while the device is offline
// (docs/architecture.md, Firmware).
import type { ScreenSize } from '../../protocol/screen-fit';

/** The column's value for a hello's screen; null when the device says it has none. */
export function screenText(screen: ScreenSize | undefined): string | null {
  return screen === undefined ? null : `${screen.width}x${screen.height}`;
}

/** The screen a device row records, or null. */
export function screenOf(row: { screen: string | null }): ScreenSize | null {
  const m = row.screen === null ? null : /^(\d+)x(\d+)$/.exec(row.screen);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}
