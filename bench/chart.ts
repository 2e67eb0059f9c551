interface Point {
  concurrency: number;
  perSecond: number;
}

/** Throughput by concurrency, saga against baseline, as a small self-contained SVG. */
export function renderChart(saga: Point[], baseline: Point[]): string {
  const width = 640;
  const height = 360;
  const pad = 50;
  const max = Math.max(...saga.map((p) => p.perSecond), ...baseline.map((p) => p.perSecond)) * 1.1;
  const levels = saga.map((p) => p.concurrency);
  const x = (i: number) => pad + (i * (width - 2 * pad)) / Math.max(1, levels.length - 1);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const line = (points: Point[], color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p, i) => `${x(i)},${y(p.perSecond)}`).join(' ')}"/>` +
    points.map((p, i) => `<circle cx="${x(i)}" cy="${y(p.perSecond)}" r="3" fill="${color}"/>`).join('');
  const ticks = levels
    .map((c, i) => `<text x="${x(i)}" y="${height - pad + 18}" text-anchor="middle">${c}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="24" font-size="14">Orders per second by concurrency</text>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="black"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>
<text x="${pad - 8}" y="${y(max / 1.1)}" text-anchor="end">${(max / 1.1).toFixed(0)}</text>
${ticks}
${line(baseline, '#999')}${line(saga, '#2563eb')}
<text x="${width - pad}" y="${pad}" text-anchor="end" fill="#2563eb">saga</text>
<text x="${width - pad}" y="${pad + 16}" text-anchor="end" fill="#999">baseline</text>
</svg>
`;
}
