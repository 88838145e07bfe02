// What a Wi-Fi network given to a device must look like, checked the same way by `npm run flash`,
// its Improv command and the web Flash page. Runs in the browser too.
const encoder = new TextEncoder();

/** null when fine, else what is wrong, in words that fit after the field's name. */
export function wifiProblem(ssid: string, psk: string | undefined): string | null {
  const ssidBytes = encoder.encode(ssid).length;
  if (ssidBytes === 0 || ssidBytes > 32) return `an SSID is 1 to 32 bytes, this one is ${ssidBytes}`;
  // WPA2-PSK takes a passphrase of 8 to 63 printable ASCII characters, or the key as 64 hex digits.
  if (psk !== undefined && !/^[\x20-\x7e]{8,63}$/.test(psk) && !/^[0-9a-fA-F]{64}$/.test(psk))
    return 'the passphrase must be 8 to 63 printable ASCII characters, or 64 hex digits';
  return null;
}
