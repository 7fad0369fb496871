// Loads the test-only addon `dysco_core_test` (native/addon/test_addon.cc): native/core on Buffers, no EAL.
// The agent's addon `dysco_native` does not contain these bindings.
import bindings from 'bindings';
import type { CoreBinding } from '../../src/native/core-binding';
import type { MacBinding } from '../../src/native/mac-binding';
import type { NeighbourBinding } from '../../src/native/neighbour-binding';
import type { PipelineBinding } from '../../src/native/pipeline-binding';
import type { ProtocolBinding } from '../../src/native/protocol-binding';
import type { FlowTableBinding } from '../../src/native/table-binding';

export interface CoreTestAddon {
  core: CoreBinding;
  flowTable: FlowTableBinding;
  neighbours: NeighbourBinding;
  protocol: ProtocolBinding;
  pipeline: PipelineBinding;
  mac: MacBinding;
}

export const CORE_TEST_ADDON = 'dysco_core_test';

export const coreTestAddon = bindings(CORE_TEST_ADDON) as CoreTestAddon;
