/** A dependency-free SVG plot: p99 latency against deliveries/s, one line per server and workload. */

export interface PlotSeries {
  label: string;
  color: string;
  /** An SVG stroke-dasharray; solid without. */
  dash?: string;
  points: { x: number; y: number; pass: boolean }[];
}

const W = 1000;
const H = 560;
const M = { l: 70, r: 330, t: 40, b: 60 };

export function plotSvg(title: string, series: PlotSeries[], threshold?: number): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => v > 0);
  const xMin = 10 ** Math.floor(Math.log10(Math.min(...xs, 1e4)));
  const xMax = 10 ** Math.ceil(Math.log10(Math.max(...xs, 1e5)));
  const yMin = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...ys, 1))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys, 1000)));
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const X = (v: number) => M.l + ((Math.log10(Math.max(v, xMin)) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw;
  const Y = (v: number) => M.t + ph - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.l}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let e = Math.log10(xMin); e <= Math.log10(xMax); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (v > xMax) break;
      const x = X(v);
      out.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${M.t + ph}" stroke="#ddd"/>`);
      out.push(`<text x="${x}" y="${M.t + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
    }
  }
  for (let e = Math.log10(yMin); e <= Math.log10(yMax); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (v > yMax) break;
      const y = Y(v);
      out.push(`<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#ddd"/>`);
      out.push(`<text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${v}</text>`);
    }
  }
  if (threshold) {
    const y = Y(threshold);
    out.push(`<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#c00" stroke-dasharray="2,3"/>`);
    out.push(`<text x="${M.l + pw - 4}" y="${y - 4}" text-anchor="end" fill="#c00">p99 limit ${threshold} ms</text>`);
  }
  out.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.l + pw / 2}" y="${H - 18}" text-anchor="middle">deliveries/s achieved (log)</text>`);
  out.push(`<text transform="translate(18 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">p99 latency, ms (log)</text>`);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const p of pts) {
        out.push(
          p.pass
            ? `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`
            : `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="white" stroke="${s.color}"/>`,
        );
      }
    }
    const ly = M.t + 14 + i * 20;
    const lx = M.l + pw + 14;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 26}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    out.push(`<text x="${lx + 32}" y="${ly}">${esc(s.label)}</text>`);
  });
  const ly = M.t + 14 + series.length * 20 + 10;
  out.push(`<text x="${M.l + pw + 14}" y="${ly}" fill="#555">filled: passed (p99 under limit, nothing lost)</text>`);
  out.push(`<text x="${M.l + pw + 14}" y="${ly + 16}" fill="#555">hollow: failed</text>`);
  out.push('</svg>');
  return out.join('\n');
}

function fmt(v: number): string {
  return v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
