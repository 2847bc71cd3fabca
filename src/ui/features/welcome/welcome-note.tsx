// The first visit's one line: what this page is, what to type, where the inspector is and where to read
// more. Dismissed once, it stays away in this browser (localStorage); where storage is refused it comes back
// on the next visit, which is the lesser harm.

import { useState } from "react";

const DISMISSED_KEY = "vireo.welcomeDismissed";

function dismissedBefore(): boolean {
  try {
    return localStorage.getItem(DISMISSED_KEY) === "1";
  } catch {
    return false;
  }
}

export function WelcomeNote() {
  const [shown, setShown] = useState(() => !dismissedBefore());
  if (!shown) return null;
  const dismiss = (): void => {
    setShown(false);
    try {
      localStorage.setItem(DISMISSED_KEY, "1");
    } catch {
      // Storage refused (a private window's policy): dismissed for this visit only.
    }
  };
  return (
    <aside className="welcome" aria-label="welcome">
      <p>
        <strong>vireo</strong> runs a RISC-V Linux machine in this tab: type in the console (try <code>uname -a</code>{" "}
        or <code>ip addr</code>); the inspector <span className="wide-only">on the right</span>
        <span className="narrow-only">(the Inspector view)</span> shows its virtio devices live. More in the{" "}
        <a href={`${import.meta.env.BASE_URL}README.md`} target="_blank" rel="noreferrer">
          README
        </a>
        .
      </p>
      <button type="button" onClick={dismiss} aria-label="dismiss the welcome note">
        ×
      </button>
    </aside>
  );
}
