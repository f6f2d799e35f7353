// What the console calls things: metrics (label and unit, in the order shown) and pipelines.
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

// pipelineLabel names a variant's pipeline: its template, or the tenant's saved pipeline and version.
export const pipelineLabel = (choice) => (choice.pipeline ? choice.pipeline + ' v' + choice.version : choice.template);
