import { render } from 'preact';
import { App } from './app';
import { startLive } from './lib/live';
import { startIdleWatch } from './lib/session';
import './styles.css';

startIdleWatch();
startLive();
render(<App />, document.getElementById('app')!);
