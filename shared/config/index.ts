export { loadConfig, type Env, type LoadOptions, type LoadedConfig } from './load.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { settings, settingNames, secretSettingNames, type Setting, type SettingName } from './settings.js';
export type { Config, NodeEnv, LogLevel } from './types.js';
