// A small uPlot line chart of one KPI over the span's days or weeks.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';

export function Sparkline({ points, format, label }) {
  const box = useRef(null);
  const [hover, setHover] = useState(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const xs = points.map((point) => point.x);
    const ys = points.map((point) => point.y);
    const width = () => Math.max(120, Math.floor(element.clientWidth || 200));
    const options = {
      width: width(),
      height: 56,
      legend: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: (self, min, max) => (min === max ? [0, max || 1] : [Math.min(0, min), max * 1.1]) } },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      series: [
        {},
        {
          stroke: '#2f6feb',
          width: 1.5,
          fill: 'rgba(47, 111, 235, 0.08)',
          spanGaps: false,
          points: { show: points.length < 16, size: 4 },
        },
      ],
      hooks: {
        setCursor: [
          (plot) => {
            const index = plot.cursor.idx;
            if (index === null || index === undefined || !points[index]) setHover(null);
            else setHover(points[index]);
          },
        ],
      },
    };
    let plot;
    try {
      plot = new uPlot(options, [xs, ys], element);
    } catch {
      return undefined;
    }
    let observer = null;
    if (typeof ResizeObserver !== 'undefined') {
      observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 56 }));
      observer.observe(element);
    }
    return () => {
      if (observer) observer.disconnect();
      plot.destroy();
    };
  }, [points]);

  return (
    <div class="spark">
      <div class="spark-plot" ref={box} role="img" aria-label={label} />
      <div class="spark-read">{hover ? `${hover.label}: ${hover.y === null ? '—' : format(hover.y)}` : '\u00a0'}</div>
    </div>
  );
}
