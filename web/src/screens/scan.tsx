// Point the camera at a machine's label: frames are decoded live with jsQR, and a label opens
// that machine's claim screen (a location label, that location's pool). A machine code can be
// typed instead.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { parseClaimTarget } from '../../../protocol/claim-target';
import { parsePoolLabel, poolLabelPath } from '../../../protocol/pool-label';
import { Alert, Field, Page } from '../components/ui';
import { navigate } from '../lib/router';

/**
 * Where scanned or typed text leads: a location label to its pool (the broker checks it), machine
 * label URLs keep their /c/ path, anything else /claim/.
 */
export function claimPathFor(text: string): string {
  try {
    const l = parsePoolLabel(text);
    if (text.includes('/p/')) return poolLabelPath(l.location, l.sig);
  } catch {
    // Not a location label: read it as a machine's.
  }
  try {
    const t = parseClaimTarget(text);
    if (t.kind === 'label') return `/c/${t.code}.${t.sig}`;
  } catch {
    // The claim screen shows the plain-words reason for text that names no machine.
  }
  return `/claim/${encodeURIComponent(text.trim())}`;
}

function cameraError(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return 'The camera is blocked. Allow camera access for this site in your browser settings, or type the machine code below.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found on this device. Type the machine code below.';
  if (name === 'NotReadableError') return 'The camera is in use by another app. Close it and try again, or type the machine code below.';
  return `The camera could not start (${err instanceof Error ? err.message : String(err)}). Type the machine code below.`;
}

const SCAN_EVERY_MS = 150;
const MAX_WIDTH = 640;

export function Scan(): JSX.Element {
  const video = useRef<HTMLVideoElement>(null);
  const [camera, setCamera] = useState<'starting' | 'scanning' | 'failed'>('starting');
  const [error, setError] = useState<string | null>(null);
  const [code, setCode] = useState('');

  useEffect(() => {
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    let decode: typeof import('jsqr').default | null = null;
    const canvas = document.createElement('canvas');
    const g = canvas.getContext('2d', { willReadFrequently: true });

    const tick = () => {
      const v = video.current;
      if (stopped || !v || !g || !decode) return;
      if (v.readyState >= v.HAVE_CURRENT_DATA && v.videoWidth > 0) {
        const scale = Math.min(1, MAX_WIDTH / v.videoWidth);
        canvas.width = Math.round(v.videoWidth * scale);
        canvas.height = Math.round(v.videoHeight * scale);
        g.drawImage(v, 0, 0, canvas.width, canvas.height);
        const img = g.getImageData(0, 0, canvas.width, canvas.height);
        const found = decode(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
        if (found && found.data.trim() !== '') {
          navigator.vibrate?.(60);
          navigate(claimPathFor(found.data));
          return;
        }
      }
      timer = setTimeout(tick, SCAN_EVERY_MS);
    };

    if (!navigator.mediaDevices?.getUserMedia) {
      setCamera('failed');
      setError('This browser cannot use the camera here (it needs a secure https connection). Type the machine code below.');
      return;
    }
    // The decoder is loaded only here, so other screens stay small.
    Promise.all([
      import('jsqr'),
      navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 } }, audio: false }),
    ])
      .then(async ([lib, s]) => {
        decode = lib.default;
        if (stopped) {
          for (const t of s.getTracks()) t.stop();
          return;
        }
        stream = s;
        const v = video.current!;
        v.srcObject = s;
        await v.play();
        setCamera('scanning');
        tick();
      })
      .catch((err: unknown) => {
        if (stopped) return;
        setCamera('failed');
        setError(cameraError(err));
      });

    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const t of stream?.getTracks() ?? []) t.stop();
    };
  }, []);

  const submit = (e: Event) => {
    e.preventDefault();
    if (code.trim() !== '') navigate(claimPathFor(code));
  };

  return (
    <Page title="Scan a machine">
      <div class="camera" data-state={camera}>
        <video ref={video} muted playsInline aria-label="Camera view: hold the machine's QR label inside the frame" />
        <div class="viewfinder" aria-hidden="true" />
        {camera === 'starting' && <p class="camera-note">Starting the camera…</p>}
      </div>
      {camera === 'scanning' && (
        <p class="hint" role="status">
          Hold the QR label on the machine inside the frame.
        </p>
      )}
      {error && <Alert kind="info">{error}</Alert>}
      <form class="card stack" onSubmit={submit}>
        <Field id="manual-code" label="Or type the machine code" hint="Printed under the QR code, for example CT0700026.">
          <input
            id="manual-code"
            autocapitalize="characters"
            autocomplete="off"
            spellcheck={false}
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
            aria-describedby="manual-code-hint"
          />
        </Field>
        <button type="submit" class="primary">
          Find machine
        </button>
      </form>
    </Page>
  );
}
