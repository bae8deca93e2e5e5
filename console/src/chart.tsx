/** An ECharts instance bound to a div: created once, option replaced on every render, resized with its box. */
import { useEffect, useRef } from 'preact/hooks';
import { echarts, type EChart } from './echarts';

type Option = Parameters<EChart['setOption']>[0];

export function Chart(props: {
  id?: string;
  class?: string;
  option: Option;
  /** Replace instead of merge (series added or removed). */
  notMerge?: boolean;
  /** Components replaced by id on each update (cheaper than notMerge: the chart is not rebuilt). */
  replace?: string[];
  onReady?: (chart: EChart) => void;
  label?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<EChart | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const c = echarts.init(el.current, undefined, { renderer: 'canvas' });
    chart.current = c;
    props.onReady?.(c);
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    // only when the option object changed: views memoise it (useMemo), so an unrelated re-render draws nothing
    // no animation: an HMI shows the state now, not a transition to it
    chart.current?.setOption(
      { animation: false, ...(props.option as object) },
      {
        notMerge: props.notMerge ?? false,
        lazyUpdate: true,
        ...(props.replace ? { replaceMerge: props.replace } : {}),
      },
    );
  }, [props.option]);
  return (
    <div id={props.id} class={`chart ${props.class ?? ''}`} ref={el} role="img" aria-label={props.label} />
  );
}

/** Colours of the four-colour risk scale and of alarm priorities (one palette for every view). */
export const LEVEL_COLOUR: Record<string, string> = {
  red: '#e5322d',
  orange: '#f5822a',
  yellow: '#f2c500',
  blue: '#2f7df6',
  unknown: '#7a8797',
};
export const PRIORITY_COLOUR: Record<string, string> = {
  critical: '#e5322d',
  high: '#f5822a',
  medium: '#f2c500',
  low: '#5aa7ff',
};
export const AXIS = { lineColor: '#3a4656', text: '#a9b4c2', split: '#222c38' };
