// The metrics the console names, in the order it shows them, each with its label and unit.
export const charted = [
  ['datapoints_per_second', 'datapoints/s'],
  ['series', 'series'],
  ['bytes_per_second', 'bytes/s'],
  ['cost_per_hour', 'cost/hour ($)'],
  ['collector_cpu', 'collector CPU (cores)'],
  ['collector_memory', 'collector memory (bytes)'],
];

const labels = new Map([...charted, ['critical_process_coverage', 'critical-process coverage']]);

// label is a metric's name for people.
export const label = (metric) => labels.get(metric) || metric;
