// The in-memory binding map that every per-message ACL check reads. It is updated in the same
// step that commits a binding change; versions make late or repeated updates harmless, which is
// what lets cluster nodes apply changes arriving over Redis in any order.
export interface Binding {
  agent: string | null;
  version: number;
}

export class BindingMap {
  private readonly map = new Map<string, Binding>();

  agentOf(device: string): string | null {
    return this.map.get(device)?.agent ?? null;
  }

  bindingOf(device: string): Binding | undefined {
    return this.map.get(device);
  }

  /** Applies a change if it is newer than what we hold; returns whether it was applied. */
  apply(device: string, agent: string | null, version: number): boolean {
    const cur = this.map.get(device);
    if (cur && cur.version >= version) return false;
    this.map.set(device, { agent, version });
    return true;
  }

  forget(device: string): void {
    this.map.delete(device);
  }

  devicesOf(agent: string): string[] {
    const out: string[] = [];
    for (const [device, b] of this.map) if (b.agent === agent) out.push(device);
    return out;
  }

  entries(): IterableIterator<[string, Binding]> {
    return this.map.entries();
  }
}
