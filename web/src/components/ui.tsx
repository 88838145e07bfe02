// Small building blocks shared by the screens: links, page frame with focus on arrival,
// form fields with labels, alerts, presence badges.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Status } from '../../../protocol/messages';
import { navigate } from '../lib/router';
import { presenceDetail, presenceLabel } from '../lib/words';

export function A(props: { href: string; class?: string; children: ComponentChildren; 'aria-current'?: 'page' | undefined }): JSX.Element {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} onClick={onClick} aria-current={props['aria-current']}>
      {props.children}
    </a>
  );
}

/** A screen: its heading takes focus on arrival so screen readers announce the new page. */
export function Page(props: { title: string; children: ComponentChildren; back?: { href: string; label: string } }): JSX.Element {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · fleetbind`;
    h1.current?.focus({ preventScroll: true });
  }, [props.title]);
  return (
    <main id="main" class="page">
      {props.back && (
        <p class="back">
          <A href={props.back.href}>← {props.back.label}</A>
        </p>
      )}
      <h1 ref={h1} tabIndex={-1}>
        {props.title}
      </h1>
      {props.children}
    </main>
  );
}

export function Alert(props: { kind?: 'error' | 'info' | 'ok'; children: ComponentChildren; testid?: string }): JSX.Element {
  const kind = props.kind ?? 'error';
  return (
    <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={props.testid}>
      {props.children}
    </div>
  );
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren; id: string }): JSX.Element {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function PresenceBadge(props: { status: Status | undefined; detail?: boolean }): JSX.Element {
  const label = presenceLabel(props.status);
  return (
    <span class={`presence presence-${label}`} data-testid="presence" data-state={label}>
      <span class="dot" aria-hidden="true" />
      {props.detail ? presenceDetail(props.status) : label}
    </span>
  );
}
