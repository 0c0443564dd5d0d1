/** What a viewer may read of why a camera failed. */

/**
 * Turns an ffmpeg error line into a short reason fit for viewers: no URL (it may name hosts or
 * credentials), no `[tcp @ 0x...]` prefix, at most 120 characters.
 */
export function viewerReason(line: string): string {
  const text = line
    .replace(/\[[^\]]*@ 0x[0-9a-f]+\]\s*/gi, '')
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S*?:\s/gi, '')
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .trim();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
