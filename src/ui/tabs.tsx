// A row of tabs after the WAI-ARIA tabs pattern: Tab reaches the selected tab (one stop for the row),
// Left/Right move between tabs and select them (Home/End: the first and last), and each tab names the
// panel it controls (tabPanelId). The caller renders the active panel with tabPanelProps().

import { type KeyboardEvent, memo, useRef } from "react";

interface Props<T extends string> {
  label: string;
  tabs: { id: T; label: string }[];
  active: T;
  onSelect: (id: T) => void;
}

function slug(label: string): string {
  return label.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
}

export function tabId(label: string, id: string): string {
  return `${slug(label)}-tab-${id}`;
}

export function tabPanelId(label: string): string {
  return `${slug(label)}-panel`;
}

/** The attributes of the panel a tab row controls: focusable, labelled by its selected tab. */
export function tabPanelProps(label: string, active: string) {
  return { id: tabPanelId(label), role: "tabpanel", "aria-labelledby": tabId(label, active), tabIndex: 0 } as const;
}

function TabsRow<T extends string>({ label, tabs, active, onSelect }: Props<T>) {
  const row = useRef<HTMLDivElement>(null);
  const keyDown = (e: KeyboardEvent<HTMLButtonElement>, i: number): void => {
    const to =
      e.key === "ArrowRight"
        ? (i + 1) % tabs.length
        : e.key === "ArrowLeft"
          ? (i - 1 + tabs.length) % tabs.length
          : e.key === "Home"
            ? 0
            : e.key === "End"
              ? tabs.length - 1
              : -1;
    if (to < 0) return;
    e.preventDefault();
    onSelect(tabs[to].id);
    row.current?.querySelectorAll<HTMLButtonElement>('[role="tab"]')[to]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label={label} ref={row}>
      {tabs.map((t, i) => (
        <button
          key={t.id}
          id={tabId(label, t.id)}
          type="button"
          role="tab"
          aria-selected={t.id === active}
          aria-controls={tabPanelId(label)}
          tabIndex={t.id === active ? 0 : -1}
          className={t.id === active ? "active" : undefined}
          onClick={() => onSelect(t.id)}
          onKeyDown={(e) => keyDown(e, i)}
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
