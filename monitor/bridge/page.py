"""The dashboard's HTML, rendered on the server: the live state, a live chart, trips, sessions.

Everything is inline (CSS, a few lines of JavaScript, the SVG chart): nothing is
fetched from anywhere but this bridge, and there is no build step. The page is
complete without JavaScript; the script only refreshes the live parts once a
second from /api/live.
"""

from __future__ import annotations

import html
import json
import math
import time
from typing import Iterable

from monitor.bridge.live import LiveView, state_message
from monitor.bridge.session_log import SessionRow, TripRow
from monitor.bridge.trip_files import TripFile, TripFolder
from monitor.bridge.trip_words import TripWords

CHART_W, CHART_H = 640, 180
CHART_SECONDS = 120.0

STYLE = """
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:20px;margin:0}header .sub{opacity:.7;font-size:13px}
main{padding:16px 24px;display:grid;grid-template-columns:minmax(300px,1fr) 2fr;gap:16px}
section{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.wide{grid-column:1/-1}h2{font-size:15px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.04em;color:#5b6373}
.badge{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:22px;letter-spacing:.03em}
.armed{background:#1f8a4c;color:#fff}.tripped{background:#c62828;color:#fff}.unarmed{background:#e0e3e8;color:#1d2330}
.unknown{background:#8a6d1f;color:#fff}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 14px;margin:12px 0 0}dt{color:#5b6373}dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8ec;vertical-align:top}
th{color:#5b6373;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.reason{font-weight:700;color:#c62828}.note{color:#5b6373;font-size:13px}.problems{color:#c62828}
svg text{font-size:11px;fill:#5b6373}a{color:#1a5fb4}a.home{color:#fff;text-decoration:none}
th.num{text-align:right}img.plot{max-width:100%}
.legend span{display:inline-block;width:14px;height:3px;margin:0 5px 3px 14px;vertical-align:middle}
.legend .belt{background:#1a5fb4}.legend .margin{background:#e66100}
"""

SCRIPT = """
const W=%(w)d,H=%(h)d,SPAN=%(span)g;
function scale(points){let top=1;for(const p of points){for(const v of [p[1],p[2]]){if(v!==null&&v>top)top=v;}}
  return Math.ceil(top*1.1);}
function line(points,i,top,now){const out=[];for(const p of points){if(p[i]===null)continue;
  const x=W-(now-p[0])/SPAN*W;if(x<0)continue;out.push(x.toFixed(1)+','+(H-p[i]/top*H).toFixed(1));}return out.join(' ');}
function fmt(v,unit,d){return v===null||v===undefined?'—':v.toFixed(d)+' '+unit;}
async function refresh(){
  try{const r=await fetch('/api/live',{cache:'no-store'});const s=await r.json();
    const b=document.getElementById('state');b.textContent=s.label;b.className='badge '+s.css;
    for(const [id,v] of Object.entries(s.text)){const e=document.getElementById(id);if(e)e.textContent=v;}
    const pts=s.chart,now=pts.length?pts[pts.length-1][0]:0,top=scale(pts);
    document.getElementById('belt-line').setAttribute('points',line(pts,1,top,now));
    document.getElementById('margin-line').setAttribute('points',line(pts,2,top,now));
    for(let k=0;k<5;k++)document.getElementById('chart-y'+k).textContent=(top*k/4).toFixed(2);
    document.getElementById('updated').textContent='live, updated '+new Date().toLocaleTimeString();
    if(s.trips_seen!==Number(document.body.dataset.trips))location.reload();
  }catch(e){document.getElementById('state').textContent='BRIDGE NOT REACHABLE';}
}
setInterval(refresh,1000);
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _g(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _when(wall: float | None) -> str:
    if wall is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _number(value: float | None, unit: str, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


def badge(view: LiveView) -> tuple[str, str]:
    """The big state word and its style."""
    snapshot = view.snapshot
    if not view.is_live or snapshot is None:
        return "DAEMON NOT REACHABLE", "unknown"
    return {"armed": ("ARMED", "armed"), "tripped": ("TRIPPED", "tripped"),
            "unarmed": ("NOT ARMED", "unarmed")}.get(snapshot.state, ("UNKNOWN STATE", "unknown"))


def live_texts(view: LiveView) -> dict[str, str]:
    """The live fields by element id (the page renders them, the script refreshes them)."""
    state = state_message(view)
    session = view.session
    problems = ", ".join(state["problems"]) or "none"
    return {
        "belt": _number(state["belt_mps"], "m/s", 2),
        "margin": _number(state["rear_margin_m"], "m", 2),
        "walking": state["walking"] or "—",
        "relay": ("—" if not view.is_live else
                  "energized (belt may run)" if state["relay_energized"] else "released (belt stopped)"),
        "problems": problems if view.is_live else f"status socket: {view.why_not_live}",
        "session": ("walking now" if view.is_session_open else "last session") if session else "none yet",
        "session-time": _duration(session.duration_s) if session else "—",
        "session-distance": _number(session.distance_m if session else None, "m", 0),
        "last-trip": (f"{view.last_trip.reason} ({view.last_trip.detail})" if view.last_trip else "none")
                     + _refused(view),
        "ceiling": (_number(state["backward_ceiling_mps"], "m/s", 2)
                    + (" (above it: slow the belt)" if state["above_backward_ceiling"] else "")),
        "steadiness": ("—" if state["step_time_cv_pct"] is None else
                       f"step time variability {state['step_time_cv_pct']:.1f}\u00a0%, sway "  # "%" never alone on a line
                       + _number(state["sway_radps"], "rad/s", 2)),
    }


def _refused(view: LiveView) -> str:
    """A re-arm refused since the trip: said beside it, never as a trip of its own."""
    refusal = view.snapshot.rearm_refused if view.is_live and view.snapshot is not None else None
    if refusal is None:
        return ""
    return f"; re-arm refused at {_when(refusal.wall_time)[11:]}: {refusal.detail}"


def live_json(view: LiveView, trips_seen: int) -> dict:
    label, css = badge(view)
    return {"label": label, "css": css, "text": live_texts(view), "state": state_message(view),
            "trips_seen": trips_seen, "chart": [list(p) for p in view.chart]}


def _chart(view: LiveView) -> str:
    points = view.chart
    top = 1.0
    for _, belt, margin in points:
        for v in (belt, margin):
            if v is not None and v > top:
                top = v
    top = float(math.ceil(top * 1.1))  # whole units: the grid lines fall on quarters
    now = points[-1][0] if points else 0.0

    def line(i: int) -> str:
        out = []
        for p in points:
            if p[i] is None:
                continue
            x = CHART_W - (now - p[0]) / CHART_SECONDS * CHART_W
            if x >= 0:
                out.append(f"{x:.1f},{CHART_H - p[i] / top * CHART_H:.1f}")
        return " ".join(out)

    grid = "".join(f'<line x1="0" x2="{CHART_W}" y1="{CHART_H * k / 4:.0f}" y2="{CHART_H * k / 4:.0f}" '
                   f'stroke="#e6e8ec"/>' for k in range(5))
    labels = "".join(f'<text x="-6" y="{CHART_H * (4 - k) / 4 + 4:.0f}" text-anchor="end" id="chart-y{k}">'
                     f'{top * k / 4:.2f}</text>' for k in range(5))
    return (f'<svg viewBox="-40 -8 {CHART_W + 48} {CHART_H + 26}" width="100%" role="img" '
            f'aria-label="belt speed and walker margin, last two minutes">{grid}{labels}'
            f'<text x="0" y="{CHART_H + 16}">−2 min</text>'
            f'<text x="{CHART_W}" y="{CHART_H + 16}" text-anchor="end">now</text>'
            f'<polyline id="belt-line" fill="none" stroke="#1a5fb4" stroke-width="2" points="{line(1)}"/>'
            f'<polyline id="margin-line" fill="none" stroke="#e66100" stroke-width="2" points="{line(2)}"/>'
            f'</svg><div class="legend note"><span class="belt"></span>belt speed (m/s)'
            f'<span class="margin"></span>walker margin to the rear edge (m)</div>')


def _words_of(trip: TripRow, record: TripFile | None, words: TripWords) -> list[str]:
    """A trip in plain words: its record's problems when there is one, else what the socket said."""
    if record is not None:
        return words.of_record(record.explanation)
    return [words.sentence(trip.detail, trip.values)]


def _sentences(said: list[str]) -> str:
    return " ".join(_e(s[:1].upper() + s[1:] + ("" if s.endswith(".") else ".")) for s in said)


def _trip_rows(trips: list[TripRow], folder: TripFolder, records_for: dict[int, TripFile], has_plots: bool,
               words: TripWords) -> str:
    rows = []
    for trip in trips:
        record = records_for.get(trip.id)
        plotted = has_plots and record is not None and record.data_path is not None
        link = f'<a href="/trip/{trip.id}">details{" and plot" if plotted else ""}</a>'
        rows.append(f'<tr><td>{_e(_when(trip.wall_time))}</td><td class="reason">{_e(trip.reason)}</td>'
                    f'<td>{_e(trip.detail)}</td><td>{_sentences(_words_of(trip, record, words))}</td>'
                    f'<td>{link}</td></tr>')
    shown = {r.stamp for r in records_for.values()}
    for record in folder.records[:20]:
        if record.stamp in shown:
            continue
        x = record.explanation
        rows.append(f'<tr><td>{_e(_when(record.wall_time) if record.wall_time else record.stamp)}</td>'
                    f'<td class="reason">{_e(x.get("reason", "?"))}</td><td>{_e(x.get("detail", ""))}</td>'
                    f'<td>{_sentences(words.of_record(x))}</td><td><a href="/record/{_e(record.stamp)}">details</a> '
                    f'<span class="note">(recorded while the bridge was away)</span></td></tr>')
    if not rows:
        return '<p class="note">No trips yet.</p>'
    return ("<table><tr><th>when</th><th>reason</th><th>check</th><th>explanation</th><th></th></tr>"
            + "".join(rows) + "</table>")


def _session_rows(sessions: list[SessionRow], view: LiveView) -> str:
    if sessions and sessions[0].end_wall is None and view.is_session_open and view.session is not None:
        live = view.session  # the open session as it is now, not as at its last checkpoint
        sessions = [SessionRow(sessions[0].id, live.start_wall, None, live.last_active_wall, live.forward_s,
                               live.backward_s, live.distance_m, live.top_speed_mps, live.trips, None,
                               *live.steadiness("forward"), *live.steadiness("backward"),
                               live.backward_ceiling_mps)] + sessions[1:]
    if not sessions:
        return '<p class="note">No sessions yet: one starts when the belt moves.</p>'
    rows = []
    for s in sessions:
        end = "walking now" if s.end_wall is None else _when(s.end_wall)
        if s.ended == "interrupted":
            end += ' <span class="note">(bridge stopped)</span>'
        rows.append(f'<tr><td>{_e(_when(s.start_wall))}</td><td>{end}</td>'
                    f'<td class="num">{_duration(s.last_active_wall - s.start_wall)}</td>'
                    f'<td class="num">{_duration(s.forward_s)}</td><td class="num">{_duration(s.backward_s)}</td>'
                    f'<td class="num">{s.distance_m:.0f} m</td><td class="num">{s.top_speed_mps:.2f} m/s</td>'
                    f'<td class="num">{s.trips}</td><td class="num">{_steady(s.forward_step_cv, s.forward_sway_radps)}</td>'
                    f'<td class="num">{_steady(s.backward_step_cv, s.backward_sway_radps)}</td>'
                    f'<td class="num">{_number(s.backward_ceiling_mps, "m/s", 2)}</td></tr>')
    return (_trend(sessions) + '<table><tr><th>start</th><th>end</th><th>time</th><th>forward</th><th>backward</th>'
            '<th>distance</th><th>top speed</th><th>trips</th><th class="num">steadiness forward</th>'
            '<th class="num">steadiness backward</th><th class="num">backward ceiling</th></tr>'
            + "".join(rows) + "</table>")


def _steady(step_cv: float | None, sway_radps: float | None) -> str:
    """Step-time variability and sway, as a physiotherapist reads them."""
    if step_cv is None:
        return "—"
    return f"{100 * step_cv:.1f} % · {_number(sway_radps, 'rad/s', 2)}"


TREND_W, TREND_H = 640, 90


def _trend(sessions: list[SessionRow]) -> str:
    """Step-time variability over the sessions, oldest to newest, forward and backward: lower is steadier."""
    ordered = list(reversed(sessions))
    series = {d: [(i, getattr(s, f"{d}_step_cv")) for i, s in enumerate(ordered)
                  if getattr(s, f"{d}_step_cv") is not None] for d in ("forward", "backward")}
    if not any(len(points) >= 2 for points in series.values()):
        return ""
    top = max(v for points in series.values() for _, v in points) * 1.2 or 0.01
    span = max(1, len(ordered) - 1)

    def line(points: list[tuple[int, float]]) -> str:
        return " ".join(f"{i / span * TREND_W:.1f},{TREND_H - v / top * TREND_H:.1f}" for i, v in points)

    return (f'<svg viewBox="-40 -8 {TREND_W + 48} {TREND_H + 26}" width="100%" role="img" '
            f'aria-label="step time variability over the sessions">'
            f'<line x1="0" x2="{TREND_W}" y1="{TREND_H}" y2="{TREND_H}" stroke="#e6e8ec"/>'
            f'<text x="-6" y="{TREND_H + 4}" text-anchor="end">0 %</text>'
            f'<text x="-6" y="4" text-anchor="end">{100 * top:.1f} %</text>'
            f'<text x="0" y="{TREND_H + 16}">oldest</text>'
            f'<text x="{TREND_W}" y="{TREND_H + 16}" text-anchor="end">newest</text>'
            f'<polyline fill="none" stroke="#1a5fb4" stroke-width="2" points="{line(series["forward"])}"/>'
            f'<polyline fill="none" stroke="#e66100" stroke-width="2" points="{line(series["backward"])}"/>'
            f'</svg><div class="legend note">step time variability per session, lower is steadier:'
            f'<span class="belt"></span>forward<span class="margin"></span>backward</div>')


def _dl(items: Iterable[tuple[str, str, str]]) -> str:
    return "<dl>" + "".join(f'<dt>{_e(label)}</dt><dd id="{id_}">{_e(value)}</dd>' for label, id_, value in items) + "</dl>"


def render_home(view: LiveView, *, device_id: str, trips: list[TripRow], sessions: list[SessionRow],
                folder: TripFolder, records_for: dict[int, TripFile], nonce: str, has_plots: bool = False,
                words: TripWords | None = None) -> str:
    words = words or TripWords()
    label, css = badge(view)
    texts = live_texts(view)
    live = _dl([("belt speed", "belt", texts["belt"]), ("walker margin", "margin", texts["margin"]),
                ("walking", "walking", texts["walking"]), ("relay", "relay", texts["relay"]),
                ("backward ceiling", "ceiling", texts["ceiling"]), ("steadiness", "steadiness", texts["steadiness"]),
                ("problems", "problems", texts["problems"]), ("last trip", "last-trip", texts["last-trip"])])
    session = _dl([("session", "session", texts["session"]), ("time", "session-time", texts["session-time"]),
                   ("distance", "session-distance", texts["session-distance"])])
    note = f'<p class="note">{_e(folder.problem)}</p>' if folder.problem else ""
    script = SCRIPT % {"w": CHART_W, "h": CHART_H, "span": CHART_SECONDS}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>treadguard {_e(device_id)}</title><style nonce="{nonce}">{STYLE}</style></head>
<body data-trips="{max((t.id for t in trips), default=0)}">
<header><h1>treadguard</h1><span class="sub">{_e(device_id)} · read-only view: nothing here can arm the monitor</span>
<span class="sub" id="updated">as loaded at {_e(_when(time.time()))}</span></header>
<main>
<section><h2>Now</h2><span id="state" class="badge {css}">{label}</span>{live}{session}</section>
<section><h2>Belt speed and walker margin</h2>{_chart(view)}</section>
<section class="wide"><h2>Trips</h2>{note}{_trip_rows(trips, folder, records_for, has_plots, words)}</section>
<section class="wide"><h2>Sessions</h2>{_session_rows(sessions, view)}</section>
</main>
<script nonce="{nonce}">{script}</script>
</body></html>
"""


def render_trip(trip: TripRow | None, record: TripFile | None, *, device_id: str, plot_url: str | None,
                plot_note: str, nonce: str, words: TripWords | None = None) -> str:
    """One trip: what the socket said, the record's full explanation, and its plot."""
    words = words or TripWords()
    parts = []
    if trip is not None:
        values = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v:.4g}</td></tr>" for k, v in trip.values.items())
        parts.append(f'<section class="wide"><h2>Trip at {_e(_when(trip.wall_time))}</h2>'
                     f'<p><span class="reason">{_e(trip.reason)}</span> ({_e(trip.detail)})</p>'
                     f'<p>{_sentences(_words_of(trip, record, words))}</p>'
                     + (f"<table><tr><th>value</th><th class='num'>measured</th></tr>{values}</table>" if values else "")
                     + "</section>")
    if record is not None:
        problems = record.explanation.get("problems") or []
        rows = "".join(
            f"<tr><td class='reason'>{_e(p.get('reason', ''))}</td><td>{_e(p.get('detail', ''))}</td>"
            f"<td>{_e(', '.join(f'{k}={_g(v)}' for k, v in (p.get('values') or {}).items()))}</td></tr>"
            for p in problems if isinstance(p, dict))
        parts.append(f'<section class="wide"><h2>Trip record of {_e(_when(record.wall_time))}</h2>'
                     + (f'<p>{_sentences(words.of_record(record.explanation))}</p>' if trip is None else "") +
                     f'<p class="note">walking {_e(record.explanation.get("walking", "?"))}; '
                     f'data: {_e(record.explanation.get("data", ""))}</p>'
                     + (f"<table><tr><th>reason</th><th>check</th><th>values</th></tr>{rows}</table>" if rows else "")
                     + "</section>")
    plot = (f'<img src="{_e(plot_url)}" alt="the sensor data around the trip" class="plot">'
            if plot_url else f'<p class="note">{_e(plot_note)}</p>')
    parts.append(f'<section class="wide"><h2>Plot</h2>{plot}</section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>treadguard {_e(device_id)}: trip</title><style nonce="{nonce}">{STYLE}</style></head>
<body><header><h1><a href="/" class="home">treadguard</a></h1>
<span class="sub">{_e(device_id)} · trip</span></header><main>{"".join(parts)}</main></body></html>
"""


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
