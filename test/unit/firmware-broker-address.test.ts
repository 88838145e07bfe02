import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBrokerAddress } from '../../firmware/core/broker-address';

const test = suite('firmware broker address');

test('accepts the usual spellings with the right default ports', () => {
  assert.equal(parseBrokerAddress('mqtt://broker.local:1884'), { host: 'broker.local', port: 1884, secure: false });
  assert.equal(parseBrokerAddress(' broker.local '), { host: 'broker.local', port: 1883, secure: false });
  assert.equal(parseBrokerAddress('mqtts://fleet.example.com'), { host: 'fleet.example.com', port: 8883, secure: true });
  assert.equal(parseBrokerAddress('192.168.1.10:1883/'), { host: '192.168.1.10', port: 1883, secure: false });
  assert.equal(parseBrokerAddress('mqtt://[fe80::1]:1883'), { host: 'fe80::1', port: 1883, secure: false });
});

test('refuses anything else', () => {
  for (const bad of [
    '',
    'http://broker.local',
    'mqtt://',
    'broker.local:0',
    'broker.local:70000',
    'mqtt://user@broker.local',
    'broker local',
    'ws://x:80/mqtt',
  ]) {
    assert.is(parseBrokerAddress(bad), null, bad);
  }
});

test.run();
