import { COLOR } from './charts.js';

export const CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d0d7de;--panel:#f6f8fa;--up:#1864ab;--down:#c2410c;--bad:#b42318;--bad-bg:#fef3f2;--warn:#8a5a00;--warn-bg:#fff8e1;--ok:#1a7f37;--ok-bg:#eefbf1}
*{box-sizing:border-box}
html{background:#fff}
body{margin:0;color:var(--fg);background:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1040px;margin:0 auto;padding:20px 24px 40px}
a{color:#0b57d0}
h1{font-size:28px;margin:2px 0 4px}
h2{font-size:20px;margin:0 0 6px}
h3{font-size:15px;margin:14px 0 4px;display:flex;align-items:center;gap:8px}
.eyebrow{font-size:13px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);font-weight:600}
.meta,.muted,.note{color:var(--muted)}
.note{font-size:13px;margin:4px 0 8px}
section{margin-top:26px;padding-top:6px;border-top:1px solid var(--line)}
.num,td.num,th.num{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:16px;border-top:0;padding:0}
.kpi{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.kpi .label{font-size:13px;color:var(--muted);font-weight:600}
.kpi .value{font-size:30px;font-weight:700;font-variant-numeric:tabular-nums;line-height:1.2;margin:2px 0}
.kpi .sub{font-size:13px;color:var(--muted)}
.kpi.bad{background:var(--bad-bg);border-color:#f3b5ae}.kpi.bad .value{color:var(--bad)}
.kpi.warn{background:var(--warn-bg);border-color:#f0d58c}.kpi.warn .value{color:var(--warn)}
.kpi.ok .value{color:var(--ok)}
.kpi a{color:inherit}
.sharebar{display:block;width:100%;height:10px;margin-top:8px;border-radius:5px;background:#e6e9ed}
.banner{margin-top:14px;border-radius:8px;padding:10px 14px;font-weight:600;border:1px solid}
.banner.bad{background:var(--bad-bg);border-color:#f3b5ae;color:var(--bad)}
.banner.warn{background:var(--warn-bg);border-color:#f0d58c;color:var(--warn)}
nav.toc{margin-top:14px;font-size:14px}
nav.toc a{margin-right:14px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;color:var(--muted);margin:4px 0 6px}
.lv-platform{background:${COLOR.platform}}.lv-manufacturer{background:${COLOR.manufacturer}}.lv-product{background:${COLOR.product}}
figure.level{margin:0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
.tick{display:inline-block;width:2px;height:14px;background:#1f2328;vertical-align:-2px;margin-right:4px}
svg.chart{display:block;width:100%;height:auto;max-width:960px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:13px;fill:#1f2328}
svg .colhead{font-size:12px;fill:#59636e;font-weight:600}
svg .group{font-size:12px;font-weight:700;fill:#59636e;text-transform:uppercase;letter-spacing:.05em}
svg .num{font-variant-numeric:tabular-nums}
svg .dim{fill:#59636e}
svg .zero .label{fill:#8c959f}
svg .track{fill:#eef1f4}
svg .prev{stroke:#1f2328;stroke-width:2}
svg .axis,svg .sep{stroke:#afb8c1;stroke-width:1}
svg .chg{font-size:12.5px;font-weight:600}
svg .chg.up,svg .bar.up{fill:var(--up)}
svg .chg.down,svg .bar.down{fill:var(--down)}
svg .chg.same,svg .chg.na{fill:#8c959f}
svg .cell{stroke:#e6e9ed;stroke-width:.5}
svg.spark{display:block;width:72px;height:18px}
svg.spark .base{fill:#d0d7de}
.up{color:var(--up)}.down{color:var(--down)}.same,.na{color:#8c959f}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:6px 0}
caption{text-align:left;font-size:13px;color:var(--muted);padding:4px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e6e9ed;vertical-align:top;text-align:left}
thead th{font-size:12px;color:var(--muted);border-bottom:1px solid var(--line);white-space:nowrap}
tbody th{font-weight:600}
tr.zero td,tr.zero th{color:#8c959f}
tr.level td{background:var(--panel);font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
td.id,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.lvl{display:inline-block;font-size:11px;font-weight:700;color:#fff;border-radius:3px;padding:0 5px;text-transform:uppercase;letter-spacing:.04em}
details{margin:8px 0}
summary{cursor:pointer;color:#0b57d0;font-size:14px}
.scroll{overflow-x:auto}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:8px 0 12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .value{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums}
.card .label{font-size:13px;color:var(--muted)}
#quality.bad{border:2px solid var(--bad);background:var(--bad-bg);border-radius:10px;padding:14px 16px}
#quality.warn{border:2px solid #e3b341;background:var(--warn-bg);border-radius:10px;padding:14px 16px}
#quality.ok{border:1px solid #9fd9b0;background:var(--ok-bg);border-radius:10px;padding:14px 16px}
#quality h2 .status{font-size:14px;font-weight:700;border-radius:12px;padding:2px 10px;margin-left:8px;vertical-align:3px;color:#fff}
#quality.bad h2 .status{background:var(--bad)}#quality.warn h2 .status{background:#9a6700}#quality.ok h2 .status{background:var(--ok)}
ul.findings{list-style:none;padding:0;margin:8px 0}
ul.findings li{padding:6px 10px;border-radius:6px;margin:4px 0;background:#fff;border:1px solid var(--line)}
ul.findings li.problem{border-color:#f3b5ae;border-left:5px solid var(--bad)}
ul.findings li.notice{border-left:5px solid #d4a72c}
ul.findings .sev{font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.04em;margin-right:6px}
ul.findings li.problem .sev{color:var(--bad)}ul.findings li.notice .sev{color:var(--warn)}
#quality table,#quality .card{background:#fff}
.card.bad{border-color:#f3b5ae}
td.bad{color:var(--bad);font-weight:700;background:var(--bad-bg)}
td.unk{color:#8c959f}td .unit{color:#57606a;font-size:.85em}
footer{margin-top:30px;font-size:12.5px;color:var(--muted)}
@media (max-width:760px){.kpis,.cards{grid-template-columns:1fr 1fr}}
@media print{details{display:block}section{break-inside:avoid-page}}
`;
