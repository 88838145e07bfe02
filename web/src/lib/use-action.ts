// An admin screen's actions: each runs with the previous outcome cleared, says what it did or why
// it failed in plain words, and bumps `reload` so the screen reads its data again.
import { useState } from 'preact/hooks';
import { errorText } from './words';

export function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const run = async (msg: string, fn: () => Promise<unknown>): Promise<void> => {
    setError(null);
    setDone(null);
    try {
      await fn();
      setDone(msg);
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return { error, setError, done, setDone, reload, setReload, run };
}
