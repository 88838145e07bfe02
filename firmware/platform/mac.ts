// The station MAC as Moddable's `net` module reports it; the desktop (lin) build has none, so the
// build config may supply one (mcconfig mac=...).
import Net from 'net';

export function stationMac(fromConfig: string | undefined): string {
  return Net.get('MAC') || fromConfig || '';
}
