/**
 * The dashboard's keyboard shortcuts (Esc, arrows, M, F, Shift+arrows, + and -) never act on a
 * key typed into a form control or a dialog: there the key belongs to the control.
 */
export function isShortcut(event: KeyboardEvent): boolean {
  if (event.altKey || event.ctrlKey || event.metaKey) return false;
  const target = event.target as HTMLElement | null;
  return !target?.closest?.('input, select, textarea, dialog');
}
