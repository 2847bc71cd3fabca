// A row of tabs (ARIA tablist); the caller renders the active panel.

import { memo } from "react";

interface Props<T extends string> {
  label: string;
  tabs: { id: T; label: string }[];
  active: T;
  onSelect: (id: T) => void;
}

function TabsRow<T extends string>({ label, tabs, active, onSelect }: Props<T>) {
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          aria-selected={t.id === active}
          className={t.id === active ? "active" : undefined}
          onClick={() => onSelect(t.id)}
          data-tab={t.id}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** Memoised: the page re-renders with every snapshot, the tabs only when one is picked. */
export const Tabs = memo(TabsRow) as typeof TabsRow;
