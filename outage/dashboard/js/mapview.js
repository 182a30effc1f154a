// Pan and zoom of an SVG by its viewBox (strokes use non-scaling-stroke, so lines and dots
// keep their width on screen).

const MIN_SIDE = 6000; // SVG units are zoom-20 pixels, about 0.15 m

export class MapView {
  constructor(svg, extent, onChange = () => {}) {
    this.svg = svg;
    this.extent = extent;
    this.onChange = onChange;
    this.fit();
    this.bind();
  }

  fit(box = this.extent, margin = 0.05) {
    // Never closer than about a kilometre across: a one-transformer outage needs its street.
    const side = Math.max(box.w, box.h, MIN_SIDE);
    const pad = side * margin;
    const cx = box.x + box.w / 2;
    const cy = box.y + box.h / 2;
    const w = Math.max(box.w, side) + 2 * pad;
    const h = Math.max(box.h, side) + 2 * pad;
    this.set({ x: cx - w / 2, y: cy - h / 2, w, h });
  }

  set(view) {
    this.view = view;
    this.svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    this.onChange(this.view);
  }

  /** Screen point -> SVG units (honours preserveAspectRatio). */
  toSvg(clientX, clientY) {
    const point = new DOMPoint(clientX, clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    return [point.x, point.y];
  }

  /** SVG units per screen pixel (for tiles and hit radii). */
  unitsPerPixel() {
    const matrix = this.svg.getScreenCTM();
    return matrix ? 1 / matrix.a : 1;
  }

  zoom(factor, clientX, clientY) {
    const [x, y] = this.toSvg(clientX, clientY);
    const v = this.view;
    const w = Math.min(Math.max(v.w * factor, 200), this.extent.w * 20 + 1000);
    const k = w / v.w;
    this.set({ x: x - (x - v.x) * k, y: y - (y - v.y) * k, w, h: v.h * k });
  }

  bind() {
    const svg = this.svg;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(Math.exp(e.deltaY * 0.0015), e.clientX, e.clientY);
    }, { passive: false });
    svg.addEventListener("dblclick", () => this.fit());
    let drag = null;
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { start: this.toSvg(e.clientX, e.clientY), moved: false };
    });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const [x, y] = this.toSvg(e.clientX, e.clientY);
      const dx = x - drag.start[0];
      const dy = y - drag.start[1];
      if (!drag.moved && Math.hypot(dx, dy) < 3 * this.unitsPerPixel()) return;
      if (!drag.moved) svg.setPointerCapture(e.pointerId); // only now: a click stays a click
      drag.moved = true;
      this.set({ ...this.view, x: this.view.x - dx, y: this.view.y - dy });
    });
    const end = (e) => {
      // A drag must not also click the incident under the pointer.
      if (drag?.moved) svg.addEventListener("click", (c) => c.stopPropagation(), { capture: true, once: true });
      drag = null;
      if (svg.hasPointerCapture(e.pointerId)) svg.releasePointerCapture(e.pointerId);
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  }
}
