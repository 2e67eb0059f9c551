/** The baseline's activity: nothing, answered at once. */
export const baselineActivities = {
  async noop(): Promise<void> {},
};
