// Claim errors that say what to do, in Chromium with screenshots: a typed code that names no
// machine says so (not "label not valid"), and a label opened while signed out asks to sign in to
// claim that machine, then goes on to the claim.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { openApp, shot, signIn, waitText } from './browser';
import { WebRig, pressClaim } from './fixtures';

const test = suite('web: claim words');
const rig = new WebRig();
test.after(() => rig.stop());

test('a typed unknown code says there is no such machine; a signed-out label asks to sign in to claim it, then claims', async () => {
  const { browser, base, agent, m } = await rig.start({ agent: 'cw-1', code: 'CT0700026' });

  const app = await openApp(browser, base + m.labelPath);
  const { page } = app;
  await page.waitForURL(`${base}/login`);
  await waitText(page.getByRole('heading', { level: 1 }), 'Sign in to claim CT0700026');
  await shot(page, 'claim-sign-in-to-claim');
  await signIn(page, agent.id, agent.password);
  await page.waitForURL(base + m.labelPath);
  await pressClaim(page, base, m);

  await page.goto(`${base}/claim/CT9999999`);
  const error = await waitText(page.getByTestId('claim-error'), 'no machine');
  assert.is(error, 'There is no machine with the code CT9999999. Check the code printed on the machine, or scan its label.');
  await shot(page, 'claim-unknown-code');
  // The one console error expected is the preview's 404 for the unknown code.
  assert.equal(
    app.errors.filter((e) => !e.includes('404')),
    [],
  );
});

test.run();
