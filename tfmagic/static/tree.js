// The %tfpanel scope tree: rows drawn from the `rows` trait, one
// `selected` key, and an {event: "toggle", key, open} message to the kernel
// when a scope is opened or closed. Every text is set as textContent.
//
// Keys, as in every file tree: Up/Down move the selection, Home/End and
// PageUp/PageDown jump, Right opens a scope (Right again goes to its first
// child), Left closes it or goes to the parent scope, Enter or Space opens
// or closes it. Keys without a modifier stay in the tree, so arrows and
// letters pressed there never move or edit the notebook's cells; with one
// (Shift+Enter, Ctrl+S ...) they are the notebook's. JupyterLab and
// Notebook 7 skip their shortcuts for a key pressed under an element marked
// data-lm-suppress-shortcuts, and read the keys before the tree does (in
// the capture phase, in Notebook 7): the mark is set for each key, first,
// from a capturing listener on the window.

function span(className, text, title) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  if (title) node.title = title;
  return node;
}

function rowElement(row, selected) {
  const node = document.createElement("div");
  node.className = `tfmagic-row tfmagic-${row.kind}`;
  node.dataset.key = row.key;
  node.setAttribute("role", "treeitem");
  node.setAttribute("aria-level", String(row.depth + 1));
  node.setAttribute("aria-selected", String(row.key === selected));
  if (row.kind === "scope") node.setAttribute("aria-expanded", String(row.open));
  if (row.title) node.title = row.title;
  const parts = [span("tfmagic-indent", "")];
  parts[0].style.width = `${row.depth * 1.25}em`;
  // A scope's twisty and a variable's mark (empty or not) take the same
  // place, so the names of one level line up (a top-level variable's with a
  // top-level scope's), one indent left of that scope's children's names,
  // as the text snapshot lays them out (treeview.row_text).
  if (row.kind === "scope") {
    parts.push(span("tfmagic-twisty", row.open ? "▾" : "▸"));
  } else {
    parts.push(span("tfmagic-mark", row.mark || "", row.mark ? row.mark_title : ""));
  }
  parts.push(span("tfmagic-name", row.name));
  for (const [name, text, title] of row.cols || []) {
    parts.push(span(`tfmagic-col tfmagic-${name}`, text, title));
  }
  parts.forEach((part, i) => {
    if (i > 1) node.append(" ");
    node.append(part);
  });
  return node;
}

function render({ model, el }) {
  const tree = document.createElement("div");
  tree.className = "tfmagic-treeview";
  tree.tabIndex = 0;
  tree.setAttribute("role", "tree");
  tree.setAttribute("aria-label", "variables by scope");
  el.appendChild(tree);

  let rows = [];
  // The row the user last clicked or moved to: after a redraw it is put
  // back at the same height in the list, so opening a scope never scrolls.
  let anchor = null;

  const rowNode = (key) => tree.querySelector(`[data-key="${CSS.escape(key)}"]`);

  function draw() {
    const keep = anchor !== null ? rowNode(anchor) : null;
    const offset = keep ? keep.offsetTop - tree.scrollTop : null;
    const scrollTop = tree.scrollTop;
    rows = model.get("rows");
    const selected = model.get("selected");
    tree.style.height = `${model.get("height_rows") * 1.5 + 0.3}em`;
    tree.replaceChildren(...rows.map((row) => rowElement(row, selected)));
    const again = anchor !== null ? rowNode(anchor) : null;
    tree.scrollTop = again && offset !== null ? again.offsetTop - offset : scrollTop;
  }

  function showSelection() {
    const selected = model.get("selected");
    for (const node of tree.querySelectorAll('[aria-selected="true"]')) {
      node.setAttribute("aria-selected", "false");
    }
    const node = selected === null ? null : rowNode(selected);
    if (node) node.setAttribute("aria-selected", "true");
    return node;
  }

  // Scrolls the tree, and only the tree, to show the row: a selection made
  // by the kernel must not scroll the notebook to the panel.
  function reveal(node) {
    const top = node.offsetTop - tree.firstElementChild.offsetTop;
    if (top < tree.scrollTop) tree.scrollTop = top;
    else if (top + node.offsetHeight > tree.scrollTop + tree.clientHeight) {
      tree.scrollTop = top + node.offsetHeight - tree.clientHeight;
    }
  }

  // A click selects a row the user sees, and a redraw keeps the rows in
  // place (draw()); only the arrow keys (and the kernel) move the view.
  let selecting = false;

  function select(index, { scroll = false } = {}) {
    const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
    if (!row) return;
    anchor = row.key;
    selecting = true;
    try {
      model.set("selected", row.key);
    } finally {
      selecting = false;
    }
    model.save_changes();
    const node = rowNode(row.key);
    if (scroll && node) reveal(node);
  }

  function toggle(row, open) {
    if (row.kind !== "scope" || row.open === open) return;
    anchor = row.key;
    model.send({ event: "toggle", key: row.key, open });
  }

  tree.addEventListener("click", (event) => {
    const node = event.target.closest(".tfmagic-row");
    if (!node) return;
    const index = rows.findIndex((row) => row.key === node.dataset.key);
    if (index < 0) return;
    select(index);
    const row = rows[index];
    if (row.kind === "scope") toggle(row, !row.open);
  });

  const modified = (event) => event.altKey || event.ctrlKey || event.metaKey || event.shiftKey;
  const markKey = (event) => {
    if (!tree.contains(event.target)) return;
    if (modified(event)) tree.removeAttribute("data-lm-suppress-shortcuts");
    else tree.setAttribute("data-lm-suppress-shortcuts", "true");
  };
  window.addEventListener("keydown", markKey, true);

  tree.addEventListener("keydown", (event) => {
    if (modified(event)) return; // the notebook's
    event.stopPropagation();
    const current = rows.findIndex((row) => row.key === model.get("selected"));
    const row = rows[current];
    const page = Math.max(1, model.get("height_rows") - 1);
    const go = (index) => select(index, { scroll: true });
    switch (event.key) {
      case "ArrowDown": go(current + 1); break;
      case "ArrowUp": go(current < 0 ? 0 : current - 1); break;
      case "PageDown": go(current + page); break;
      case "PageUp": go(current - page); break;
      case "Home": go(0); break;
      case "End": go(rows.length - 1); break;
      case "ArrowRight":
        if (row && row.kind === "scope") {
          const child = rows[current + 1];
          if (!row.open) toggle(row, true);
          else if (child && child.depth > row.depth) go(current + 1);
        }
        break;
      case "Enter":
      case " ":
        if (row && row.kind === "scope") toggle(row, !row.open);
        break;
      case "ArrowLeft":
        if (row && row.kind === "scope" && row.open) {
          toggle(row, false);
        } else if (row) {
          for (let i = current - 1; i >= 0; i--) {
            if (rows[i].kind === "scope" && rows[i].depth < row.depth) {
              go(i);
              break;
            }
          }
        }
        break;
      default:
        return; // other keys: the browser's (Tab moves the focus on)
    }
    event.preventDefault();
  });

  const onRows = () => { draw(); showSelection(); };
  const onSelected = () => {
    const node = showSelection();
    if (node && !selecting) reveal(node); // chosen by the kernel
  };
  model.on("change:rows", onRows);
  model.on("change:height_rows", draw);
  model.on("change:selected", onSelected);
  draw();
  showSelection();
  // A removed view stops listening (older anywidgets leave that to us).
  return () => {
    window.removeEventListener("keydown", markKey, true);
    model.off("change:rows", onRows);
    model.off("change:height_rows", draw);
    model.off("change:selected", onSelected);
  };
}

export default { render };
