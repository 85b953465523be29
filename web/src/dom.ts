// The few DOM helpers the page uses. Text from the server only ever goes
// into textContent: nothing here parses HTML.

/** The element with this id, checked to be of the expected kind (the page's markup is fixed). */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`page markup: #${id} is missing or not a ${kind.name}`);
  return element;
}

/** A new element with a class and, optionally, its text. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Shows one of the two top-level views and hides the other. */
export function show(visible: HTMLElement, hidden: HTMLElement): void {
  hidden.hidden = true;
  visible.hidden = false;
}
