/**
 * Selection policies: which of an application's linked models answers a query. Owns the choice only;
 * versions and core ids are resolved by `routing`.
 *
 * Only the original Clipper's default is built so far: the first linked model answers. Bandit policies
 * (Exp3, Exp4, ε-greedy, UCB) that learn from `/update` feedback plug in behind this interface.
 */

export interface SelectionPolicy {
  /** The model name to query, or undefined when the application links none. */
  select(linked_models: readonly string[]): string | undefined;
}

export const firstLinkedModel: SelectionPolicy = {
  select: (linked_models) => linked_models[0],
};
