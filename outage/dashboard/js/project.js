// Web Mercator projection into SVG units, relative to the network's corner.
//
// Mercator so that an optional tile layer lines up; the origin is subtracted and the unit is a
// zoom-20 tile pixel (about 0.15 m) so that SVG's single-precision floats keep street detail.

export const UNIT_ZOOM = 20;
const SCALE = 256 * 2 ** UNIT_ZOOM;

/** Mercator world coordinates in [0, 1). */
export function mercator(lon, lat) {
  const sin = Math.sin((lat * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)];
}

export class Projection {
  /** bbox: [west, south, east, north] of the network. */
  constructor(bbox) {
    const [west, , , north] = bbox;
    [this.ox, this.oy] = mercator(west, north);
    const [ex, ey] = this.world(bbox[2], bbox[1]);
    this.extent = { x: 0, y: 0, w: ex, h: ey };
  }

  /** [lon, lat] -> SVG [x, y] */
  world(lon, lat) {
    const [mx, my] = mercator(lon, lat);
    return [(mx - this.ox) * SCALE, (my - this.oy) * SCALE];
  }

  /** SVG units back to Mercator world [0, 1) (for tile numbers). */
  toMercator(x, y) {
    return [x / SCALE + this.ox, y / SCALE + this.oy];
  }

  fromMercator(mx, my) {
    return [(mx - this.ox) * SCALE, (my - this.oy) * SCALE];
  }

  /** An SVG path "M..L.." for a list of [lon, lat]. */
  line(coords) {
    let d = "";
    for (let i = 0; i < coords.length; i++) {
      const [x, y] = this.world(coords[i][0], coords[i][1]);
      d += `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
    }
    return d;
  }

  /** Zero-length segments drawn with round caps: dots that keep their size when zooming. */
  dot(lon, lat) {
    const [x, y] = this.world(lon, lat);
    return `M${x.toFixed(1)} ${y.toFixed(1)}h0`;
  }
}
