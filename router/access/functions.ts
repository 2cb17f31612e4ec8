/**
 * The functions a non-admin token may call (router/access/authorize.ts). An allowlist, not a
 * denylist: Postgres has hundreds of functions that read files, run SQL text (query_to_xml, …,
 * which would bypass table grants), change settings, take locks, sleep or reach the network — a
 * list of the bad ones would always miss one. What
 * is here computes a value from its arguments (or the clock, or randomness) and nothing else.
 * (A PGlite shard also runs client statements as an unprivileged role, docs/engines.md: this
 * list is the first wall, not the only one.)
 */

const STRING = [
  'ascii', 'bit_length', 'btrim', 'char_length', 'character_length', 'chr', 'concat', 'concat_ws', 'convert_from',
  'convert_to', 'decode', 'encode', 'format', 'initcap', 'left', 'length', 'lower', 'lpad', 'ltrim', 'md5',
  'octet_length', 'overlay', 'position', 'quote_ident', 'quote_literal', 'quote_nullable', 'regexp_count',
  'regexp_instr', 'regexp_like', 'regexp_match', 'regexp_matches', 'regexp_replace', 'regexp_split_to_array',
  'regexp_split_to_table', 'regexp_substr', 'repeat', 'replace', 'reverse', 'right', 'rpad', 'rtrim', 'sha224',
  'sha256', 'sha384', 'sha512', 'split_part', 'starts_with', 'string_to_array', 'string_to_table', 'strpos', 'substr',
  'substring', 'to_hex', 'translate', 'trim', 'upper',
];

const MATH = [
  'abs', 'acos', 'acosd', 'acosh', 'asin', 'asind', 'asinh', 'atan', 'atan2', 'atan2d', 'atand', 'atanh', 'cbrt',
  'ceil', 'ceiling', 'cos', 'cosd', 'cosh', 'cot', 'cotd', 'degrees', 'div', 'exp', 'factorial', 'floor', 'gcd', 'lcm',
  'ln', 'log', 'log10', 'min_scale', 'mod', 'pi', 'pow', 'power', 'radians', 'random', 'random_normal', 'round', 'scale',
  'sign', 'sin', 'sind', 'sinh', 'sqrt', 'tan', 'tand', 'tanh', 'trim_scale', 'trunc', 'width_bucket',
];

const DATE_TIME = [
  'age', 'clock_timestamp', 'date', 'date_bin', 'date_part', 'date_trunc', 'isfinite', 'justify_days', 'justify_hours',
  'justify_interval', 'make_date', 'make_interval', 'make_time', 'make_timestamp', 'make_timestamptz', 'now',
  'statement_timestamp', 'timeofday', 'timezone', 'to_char', 'to_date', 'to_number', 'to_timestamp', 'transaction_timestamp',
];

const JSONS = [
  'array_to_json', 'json_array_elements', 'json_array_elements_text', 'json_array_length', 'json_build_array',
  'json_build_object', 'json_each', 'json_each_text', 'json_extract_path', 'json_extract_path_text', 'json_object',
  'json_object_keys', 'json_populate_record', 'json_strip_nulls', 'json_typeof', 'jsonb_array_elements',
  'jsonb_array_elements_text', 'jsonb_array_length', 'jsonb_build_array', 'jsonb_build_object', 'jsonb_each',
  'jsonb_each_text', 'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_insert', 'jsonb_object', 'jsonb_object_keys',
  'jsonb_path_exists', 'jsonb_path_match', 'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first',
  'jsonb_populate_record', 'jsonb_pretty', 'jsonb_set', 'jsonb_set_lax', 'jsonb_strip_nulls', 'jsonb_typeof',
  'row_to_json', 'to_json', 'to_jsonb',
];

const ARRAY = [
  'array_append', 'array_cat', 'array_dims', 'array_fill', 'array_length', 'array_lower', 'array_ndims', 'array_position',
  'array_positions', 'array_prepend', 'array_remove', 'array_replace', 'array_to_string', 'array_upper', 'cardinality',
  'generate_series', 'generate_subscripts', 'unnest',
];

const AGGREGATE = [
  'any_value', 'array_agg', 'avg', 'bit_and', 'bit_or', 'bit_xor', 'bool_and', 'bool_or', 'corr', 'count', 'covar_pop',
  'covar_samp', 'every', 'json_agg', 'json_object_agg', 'jsonb_agg', 'jsonb_object_agg', 'max', 'min', 'mode',
  'percentile_cont', 'percentile_disc', 'regr_avgx', 'regr_avgy', 'regr_count', 'regr_intercept', 'regr_r2', 'regr_slope',
  'regr_sxx', 'regr_sxy', 'regr_syy', 'stddev', 'stddev_pop', 'stddev_samp', 'string_agg', 'sum', 'var_pop', 'var_samp',
  'variance',
];

const WINDOW = ['cume_dist', 'dense_rank', 'first_value', 'lag', 'last_value', 'lead', 'nth_value', 'ntile', 'percent_rank', 'rank', 'row_number'];

/** Conditionals, comparisons and the subquery tests the parser reads as calls (`x = ANY(…)`, `EXISTS(…)`). */
const CONDITIONAL = ['all', 'any', 'coalesce', 'exists', 'greatest', 'least', 'nullif', 'num_nonnulls', 'num_nulls', 'some'];

/** Callable by every token. */
export const PURE_FUNCTIONS: ReadonlySet<string> = new Set([
  ...STRING, ...MATH, ...DATE_TIME, ...JSONS, ...ARRAY, ...AGGREGATE, ...WINDOW, ...CONDITIONAL, 'gen_random_uuid',
]);

/** Callable by tokens that may write: they advance a sequence (setval, which resets one for everyone, is not here). */
export const WRITE_FUNCTIONS: ReadonlySet<string> = new Set(['nextval', 'currval']);
