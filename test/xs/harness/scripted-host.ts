// One scripted device: a ScriptedPlatform plus the real core, answering HarnessEvents. The
// Node engine calls it in-process; under XS, xs-entry.ts feeds it from handleCommand.
import { DeviceCore } from '../../../firmware/core/core';
import { ScriptedPlatform, fromHex } from './scripted-platform';
import type { HarnessEvent, PlatformCall, StatsReply } from './wire';

export class ScriptedHost {
  private platform: ScriptedPlatform | null = null;
  private core: DeviceCore | null = null;

  constructor(private readonly emit: (call: PlatformCall) => void) {}

  handle(event: HarnessEvent): StatsReply | null {
    if (event.type === 'boot') {
      if (this.core !== null) throw new Error('test script error: boot twice');
      const platform = new ScriptedPlatform(this.emit, event);
      this.platform = platform;
      this.core = new DeviceCore(platform, {
        ...event.options,
        onState: (state) => this.emit({ op: 'state', state, at: platform.ticks() }),
      });
      this.core.start();
      return null;
    }
    const p = this.platform;
    const core = this.core;
    if (p === null || core === null) throw new Error(`test script error: '${event.type}' before boot`);
    switch (event.type) {
      case 'advance':
        p.advance(event.ms);
        return null;
      case 'setClock':
        p.setClock(event.at);
        return null;
      case 'wifi':
        p.wifiEvent(event.status);
        return null;
      case 'mqtt.ready':
        p.mqttReady();
        return null;
      case 'mqtt.message':
        p.mqttMessage(event.topic, event.payload);
        return null;
      case 'mqtt.close':
        p.mqttClose(event.refused === undefined ? { reason: event.reason ?? 'socket closed' } : { refused: event.refused });
        return null;
      case 'serial.reply':
        p.serialReply(event.ok ? { ok: true, data: fromHex(event.data) } : { ok: false, error: event.error });
        return null;
      case 'ota.status':
        p.otaStatus(event.status);
        return null;
      case 'ota.data':
        p.otaData(fromHex(event.data));
        return null;
      case 'ota.end':
        p.otaEnd(event.error);
        return null;
      case 'stop':
        core.stop();
        return null;
      case 'stats':
        return { stats: core.stats(), prefs: p.snapshotPrefs(), pendingTimers: p.pendingTimers, now: p.now() };
    }
  }
}
