// The core packet functions for the native test tier (no EAL needed).
import type { CoreBinding } from '../../src/native/core-binding';
import { coreTestAddon } from './core-addon';

export const core: CoreBinding = coreTestAddon.core;
