// Loads the addon's core bindings for the native test tier (no EAL needed).
import bindings from 'bindings';
import type { CoreBinding } from '../../src/native/core-binding';

const native = bindings('dysco_native') as { core: CoreBinding };

export const core: CoreBinding = native.core;
