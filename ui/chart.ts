// Line charts with uPlot (canvas; draws 100k-point series quickly and takes appended data with setData without
// rebuilding): one chart per metric, a series per run, x = step. Smoothing is TensorBoard's exponential moving
// average (debiased); zoom is uPlot's drag-to-select (double-click resets), kept across live appends.
import uPlot from "uplot";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** TensorBoard's debiased EMA of ys with weight `w` in [0, 1); nulls stay null. */
export function smooth(ys: (number | null)[], w: number): (number | null)[] {
  if (w <= 0) return ys;
  let last = 0,
    n = 0;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y)) return null;
    last = last * w + (1 - w) * y;
    n++;
    return last / (1 - w ** n);
  });
}

export interface Series {
  label: string;
  x: number[];
  y: (number | null)[];
}

/** The series joined on a common x (uPlot's aligned data). */
export function aligned(series: Series[], w: number): uPlot.AlignedData {
  if (series.length === 0) return [[]];
  return uPlot.join(series.map((s) => [s.x, smooth(s.y, w)] as uPlot.AlignedData));
}

export class LineChart {
  readonly plot: uPlot;
  /** Whether the user zoomed in (drag); a double-click zooms out. */
  private zoomed = false;
  constructor(el: HTMLElement, title: string, labels: string[], data: uPlot.AlignedData, width = 560, xLabel = "step") {
    this.plot = new uPlot(
      {
        hooks: { setSelect: [(u) => u.select.width > 0 && (this.zoomed = true)] },
        title,
        width,
        height: 240,
        scales: { x: { time: false } },
        cursor: { drag: { x: true, y: false } },
        series: [
          { label: xLabel },
          ...labels.map((l, i) => ({ label: l, stroke: COLORS[i % COLORS.length], spanGaps: true, width: 1.5 })),
        ],
        axes: [{}, { size: 60 }],
      },
      data,
      el,
    );
    this.plot.over.addEventListener("dblclick", () => (this.zoomed = false));
  }
  /** New data, keeping a zoomed-in x range. */
  update(data: uPlot.AlignedData): void {
    this.plot.setData(data, !this.zoomed);
  }
  destroy(): void {
    this.plot.destroy();
  }
}
