// A QR code drawn in the browser from text (the payment QR preview), as an image with alt text.
import QRCode from 'qrcode';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export function QrPreview(props: { text: string; label: string }): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let gone = false;
    QRCode.toDataURL(props.text, { margin: 2, width: 240, errorCorrectionLevel: 'M' }).then(
      (u) => !gone && (setUrl(u), setError(null)),
      (err: Error) => !gone && setError(`The QR code cannot be drawn: ${err.message}`),
    );
    return () => {
      gone = true;
    };
  }, [props.text]);
  if (error) return <p class="hint">{error}</p>;
  return <figure class="qr">{url && <img src={url} width={240} height={240} alt={props.label} data-testid="qr-preview" />}</figure>;
}
