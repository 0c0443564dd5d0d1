/** Client-supplied text, shortened before it is echoed back or logged: `max` characters, then "...". */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Text from a device, fit for a terminal or a page: control characters (escape sequences, line
 * breaks) become spaces, and the ends are trimmed.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
}
