/**
 * drillbook's JupyterLab extension: packetdrill highlighting for `%%drill` cells and `.pkt`
 * files.
 *
 * JupyterLab gives every cell of a notebook its kernel's language (IPython), and has no
 * per-cell rule for cell magics (jupyterlab/jupyterlab#3869, #15324). So this plugin
 * 1. registers a `packetdrill` language (mime `text/x-packetdrill`, files `*.pkt`) with
 *    JupyterLab's editor language registry, and
 * 2. adds an editor extension that watches each editor's text and switches its model's mime
 *    type to packetdrill while the text starts with `%%drill`, and back when it no longer
 *    does (the editor then reconfigures its language itself). The mime type is the editor's
 *    own state, not the notebook's: switching it does not modify the notebook.
 *
 * Tokens get the classes `cm-drill-<kind>` and the look drillbook's lessons give them
 * (JupyterLab's theme variables, so light and dark themes both work).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CodeEditor } from '@jupyterlab/codeeditor';
import {
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import {
  LanguageSupport,
  StreamLanguage,
  syntaxHighlighting
} from '@codemirror/language';
import { Tag, tagHighlighter } from '@lezer/highlight';

import { packetdrillParser } from './mode';
import vocabulary from './vocabulary.json';

export const MIME = 'text/x-packetdrill';
export const MAGIC = /^\s*%%drill(?:\s|$)/;
const CLASS_PREFIX = 'cm-drill-';

const KINDS: Record<string, string> = vocabulary.kinds;
const TAGS: Record<string, Tag> = Object.fromEntries(
  Object.keys(KINDS).map(kind => [kind, Tag.define()])
);

function packetdrillSupport(): LanguageSupport {
  const language = StreamLanguage.define({ ...packetdrillParser, tokenTable: TAGS });
  const highlighter = tagHighlighter(
    Object.entries(TAGS).map(([kind, tag]) => ({ tag, class: CLASS_PREFIX + kind }))
  );
  return new LanguageSupport(language, [syntaxHighlighting(highlighter)]);
}

/** One stylesheet for the token classes, added to the page once. */
function addStyles(): void {
  const style = document.createElement('style');
  style.id = 'drillbook-packetdrill-styles';
  style.textContent = Object.entries(KINDS)
    .map(([kind, css]) => `.${CLASS_PREFIX}${kind} { ${css} }`)
    .join('\n');
  document.head.appendChild(style);
}

const followed = new WeakSet<CodeEditor.IModel>();

/** Keep an editor's mime type on packetdrill while its text starts with %%drill. */
function followMagic(model: CodeEditor.IModel): void {
  if (followed.has(model)) {
    return;
  }
  followed.add(model);
  let original: string | null = null;
  const update = (): void => {
    const drill = MAGIC.test(model.sharedModel.getSource());
    if (drill && model.mimeType !== MIME) {
      original = model.mimeType;
      model.mimeType = MIME;
    } else if (!drill && model.mimeType === MIME && original !== null) {
      model.mimeType = original;
      original = null;
    }
  };
  model.sharedModel.changed.connect(update);
  // The notebook sets every cell's mime type when it learns the kernel's language.
  model.mimeTypeChanged.connect(update);
  update();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'drillbook-packetdrill:plugin',
  description: 'packetdrill syntax highlighting for %%drill cells and .pkt files',
  autoStart: true,
  requires: [IEditorLanguageRegistry, IEditorExtensionRegistry],
  activate: (
    app: JupyterFrontEnd,
    languages: IEditorLanguageRegistry,
    extensions: IEditorExtensionRegistry
  ) => {
    addStyles();
    languages.addLanguage({
      name: 'packetdrill',
      displayName: 'packetdrill',
      mime: MIME,
      extensions: ['pkt'],
      support: packetdrillSupport()
    });
    extensions.addExtension({
      name: 'drillbook:packetdrill-cells',
      factory: options => {
        followMagic(options.model);
        return null;
      }
    });
  }
};

export default plugin;
