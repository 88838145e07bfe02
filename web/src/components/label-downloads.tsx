// A device's signed claim label: a preview of the PNG and downloads as PNG, PDF (an A4 sheet) or
// SVG, from the broker's label route (the same drawing as `npm run labels`).
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { download } from '../lib/api';
import { session } from '../lib/session';
import { errorText } from '../lib/words';
import { Alert } from './ui';

const FORMATS = ['png', 'pdf', 'svg'] as const;

export function LabelDownloads(props: { device: string; code: string; preview?: boolean }): JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const [src, setSrc] = useState<string | null>(null);
  const path = `/api/devices/${encodeURIComponent(props.device)}/label`;

  // An <img> cannot send the bearer token, so the preview is fetched and shown from a blob.
  useEffect(() => {
    const s = session.get();
    if (!props.preview || !s) return;
    let url: string | null = null;
    let gone = false;
    fetch(path, { headers: { authorization: `Bearer ${s.token}` } })
      .then(async (r) => {
        if (!r.ok) throw new Error(`The label preview could not be loaded (HTTP ${r.status}).`);
        const b = await r.blob();
        if (!gone) setSrc((url = URL.createObjectURL(b)));
      })
      .catch((err: unknown) => {
        if (!gone) setError(errorText(err));
      });
    return () => {
      gone = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path, props.preview]);

  const get = async (format: (typeof FORMATS)[number]) => {
    setError(null);
    const s = session.get();
    if (!s) return;
    try {
      await download(`${path}?format=${format}`, s.token, `${props.code}.${format}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div class="label-files">
      {src && <img class="label-preview" src={src} alt={`Claim label of ${props.code}`} data-testid="label-preview" />}
      <div class="actions">
        {FORMATS.map((f) => (
          <button
            key={f}
            type="button"
            class="secondary small"
            onClick={() => void get(f)}
            aria-label={`Download the label of ${props.code} as ${f.toUpperCase()}`}
          >
            {f.toUpperCase()}
          </button>
        ))}
      </div>
      {error && <Alert>{error}</Alert>}
    </div>
  );
}
