/** A small SVG line plot: one or more series of (x, y) points, linear or log-10 x axis, linear y from 0. */

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Plot {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
}

const fmt = (v: number) =>
  Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toPrecision(3)}`;

export function linePlot(p: Plot): string {
  const W = 640;
  const H = 400;
  const L = 70;
  const R = 170;
  const T = 40;
  const B = 50;
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (p.logX ? Math.log10(x) : x);
  const xs = pts.map(([x]) => tx(x));
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x0 === x1) x1 = x0 + 1;
  if (p.logX) {
    x0 = Math.floor(x0);
    x1 = Math.ceil(x1);
  }
  const yMax = Math.max(...pts.map(([, y]) => y), 0);
  const yStep = niceStep(yMax || 1, 5);
  const y1 = Math.ceil((yMax || 1) / yStep) * yStep;
  const px = (x: number) => L + ((tx(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => H - B - (y / y1) * (H - T - B);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
  );
  for (let y = 0; y <= y1 + 1e-9; y += yStep) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  const xTicks = p.logX
    ? Array.from({ length: x1 - x0 + 1 }, (_, i) => 10 ** (x0 + i))
    : (() => {
        const step = niceStep(x1 - x0, 6);
        const t: number[] = [];
        for (let x = Math.ceil(x0 / step) * step; x <= x1 + 1e-9; x += step) t.push(x);
        return t;
      })();
  for (const x of xTicks) {
    out.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`,
      `<text x="${px(x)}" y="${H - B + 16}" text-anchor="middle">${fmt(x)}</text>`,
    );
  }
  out.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(p.xLabel)}${p.logX ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`,
  );
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${good.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [x, y] of good) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = T + 10 + i * 18;
    out.push(
      `<line x1="${W - R + 12}" x2="${W - R + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${W - R + 38}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
