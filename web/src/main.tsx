import { render } from 'preact';
import { App } from './app';
import { startLive } from './lib/live';
import { startIdleWatch } from './lib/session';
import { installTokenHook } from './lib/token-hook';
import './styles.css';

startIdleWatch();
installTokenHook();
startLive();
render(<App />, document.getElementById('app')!);
