// The customer page's languages: one table each; the choice is remembered on the phone.
import { Observable } from '../lib/observable';
import { type Strings, en } from './strings-en';
import { es } from './strings-es';

export const LANGUAGES = { en, es } as const;
export type Lang = keyof typeof LANGUAGES;

const KEY = 'fb-order-lang';

function initial(): Lang {
  const saved = localStorage.getItem(KEY);
  if (saved === 'en' || saved === 'es') return saved;
  return navigator.language.toLowerCase().startsWith('es') ? 'es' : 'en';
}

export const lang = new Observable<Lang>(initial());

export function setLang(l: Lang): void {
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
  lang.set(l);
}

export function stringsOf(l: Lang): Strings {
  return LANGUAGES[l];
}

export function errorText(t: Strings, code: string): string {
  return (t.errors as Record<string, string>)[code] ?? t.errors.other;
}
