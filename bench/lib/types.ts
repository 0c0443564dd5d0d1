/** What every benchmark returns, so bench/run.ts can print one table and one chart. */

export interface BenchFigure {
  /** What was measured, e.g. "delivered frames/s, 20 clients". */
  name: string;
  /** camplex's value. */
  value: number;
  unit: string;
  /** The baseline measured side by side in the same run (bare ws, MJPEG page, rtsp-relay...). */
  baseline?: number;
  /** value / baseline, when a baseline exists. */
  ratio?: number;
  /** The target from docs/ARCHITECTURE.md, as text, e.g. ">= 0.95 x bare ws". */
  target?: string;
  /** Whether the target was met; undefined when there is none. */
  met?: boolean;
}

export interface BenchResult {
  /** "B1".."B10" */
  id: string;
  title: string;
  figures: BenchFigure[];
  /** What limits these figures (the bottleneck seen), in a sentence or two. */
  notes: string[];
}

export interface BenchOptions {
  /** Seconds of measurement per configuration (after warm-up). */
  seconds: number;
  /** Smaller loads and shorter runs, for a smoke run. */
  quick: boolean;
}
