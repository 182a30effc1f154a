// Optional background tiles (off by default: the network itself is the map). Enabled with
// ?tiles=https://host/{z}/{x}/{y}.png on the page URL; images are placed in SVG units.

import { UNIT_ZOOM } from "./project.js";

export class TileLayer {
  constructor(group, projection, template) {
    this.group = group;
    this.projection = projection;
    this.template = template;
    this.shown = new Map();
  }

  update(view, pixels) {
    // The zoom whose tiles are about 256 screen pixels wide.
    const unitsPerPixel = view.w / pixels;
    const z = Math.max(0, Math.min(19, Math.round(UNIT_ZOOM - Math.log2(unitsPerPixel))));
    const n = 2 ** z;
    const p = this.projection;
    const [mx0, my0] = p.toMercator(view.x, view.y);
    const [mx1, my1] = p.toMercator(view.x + view.w, view.y + view.h);
    const wanted = new Set();
    for (let tx = Math.floor(mx0 * n); tx <= Math.floor(mx1 * n); tx++) {
      for (let ty = Math.floor(my0 * n); ty <= Math.floor(my1 * n); ty++) {
        if (ty < 0 || ty >= n) continue;
        const key = `${z}/${tx}/${ty}`;
        wanted.add(key);
        if (this.shown.has(key)) continue;
        const [x, y] = p.fromMercator(tx / n, ty / n);
        const [x1, y1] = p.fromMercator((tx + 1) / n, (ty + 1) / n);
        const image = document.createElementNS("http://www.w3.org/2000/svg", "image");
        const url = this.template.replace("{z}", z).replace("{x}", ((tx % n) + n) % n).replace("{y}", ty);
        image.setAttribute("href", url);
        Object.entries({ x, y, width: x1 - x, height: y1 - y }).forEach(([k, v]) => image.setAttribute(k, v));
        image.setAttribute("class", "tile");
        this.group.append(image);
        this.shown.set(key, image);
      }
    }
    for (const [key, image] of this.shown) {
      if (!wanted.has(key)) {
        image.remove();
        this.shown.delete(key);
      }
    }
  }
}
