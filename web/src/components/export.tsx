// CSV and JSON export of one job (its history and the device data recorded while it ran).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { download } from '../lib/api';
import { session } from '../lib/session';
import { errorText } from '../lib/words';
import { Alert } from './ui';

export function ExportButtons(props: { job: string }): JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const get = async (format: 'csv' | 'json') => {
    setError(null);
    const s = session.get();
    if (!s) return;
    try {
      await download(`/api/jobs/${encodeURIComponent(props.job)}/export?format=${format}`, s.token, `job-${props.job}.${format}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <span class="export">
      <button type="button" class="secondary small" onClick={() => void get('csv')} aria-label={`Export job ${props.job} as CSV`}>
        CSV
      </button>
      <button type="button" class="secondary small" onClick={() => void get('json')} aria-label={`Export job ${props.job} as JSON`}>
        JSON
      </button>
      {error && <Alert>{error}</Alert>}
    </span>
  );
}
