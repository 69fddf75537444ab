'use strict';
/**
 * The fast-xml-parser 3.x API that s3rver 3.7.1 (the S3 test server, a devDependency) calls, on top
 * of fast-xml-parser 4.5.7. fast-xml-parser 3.21.1, the last 3.x, is affected by GHSA-x3cc-x39p-42qx
 * (prototype pollution, fixed in 4.1.2) and no 3.x release has the fix; 4.x dropped the 3.x names,
 * so an override to plain 4.x would break s3rver. The root package.json overrides s3rver's
 * fast-xml-parser with this folder (docs/supply-chain.md).
 *
 * Only what s3rver uses is mapped (lib/s3rver.js, lib/utils.js, lib/models/config.js,
 * lib/models/error.js, lib/controllers/object.js), keeping 3.x behaviour:
 * - 3.x never decoded or encoded XML entities (s3rver does it itself with `he`), so
 *   processEntities is off in both directions;
 * - 3.x processors take (value, name), 4.x ones (name, value);
 * - 3.x skipped the `<?xml …?>` declaration and processing instructions;
 * - 3.x's `attrNodeName` is 4.x's `attributesGroupName`, `parseNodeValue` is `parseTagValue`,
 *   `ignoreNameSpace` is `removeNSPrefix`, `supressEmptyNode` is `suppressEmptyNode`;
 * - 3.x wrote `attr="true"`, 4.x writes a bare `attr` unless suppressBooleanAttributes is off.
 */
const { XMLParser, XMLBuilder, XMLValidator } = require('fast-xml-parser');

const identity = (value) => value;

/** 3.x parse options → 4.x XMLParser options. */
function parserOptions(options = {}) {
  const tagValueProcessor = options.tagValueProcessor || identity;
  const attrValueProcessor = options.attrValueProcessor || identity;
  const mapped = {
    attributeNamePrefix: options.attributeNamePrefix !== undefined ? options.attributeNamePrefix : '@_',
    attributesGroupName: options.attrNodeName || false,
    textNodeName: options.textNodeName || '#text',
    ignoreAttributes: options.ignoreAttributes !== undefined ? options.ignoreAttributes : true,
    removeNSPrefix: Boolean(options.ignoreNameSpace),
    allowBooleanAttributes: Boolean(options.allowBooleanAttributes),
    parseTagValue: options.parseNodeValue !== undefined ? options.parseNodeValue : true,
    parseAttributeValue: Boolean(options.parseAttributeValue),
    trimValues: options.trimValues !== undefined ? options.trimValues : true,
    cdataPropName: options.cdataTagName || false,
    alwaysCreateTextNode: Boolean(options.alwaysCreateTextNode),
    stopNodes: options.stopNodes || [],
    processEntities: false,
    htmlEntities: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    tagValueProcessor: (tagName, value) => tagValueProcessor(value, tagName),
    attributeValueProcessor: (attrName, value) => attrValueProcessor(value, attrName),
  };
  if (options.arrayMode === true) mapped.isArray = () => true;
  if (options.numParseOptions) mapped.numberParseOptions = options.numParseOptions;
  else if (options.parseTrueNumberOnly) mapped.numberParseOptions = { hex: true, leadingZeros: false };
  return mapped;
}

/** 3.x `parse(xml, options, validationOption)`: the XML as a plain object. */
function parse(xmlData, options, validationOption) {
  if (validationOption) {
    const result = XMLValidator.validate(xmlData, validationOption === true ? {} : validationOption);
    if (result !== true) throw new Error(result.err.msg);
  }
  return new XMLParser(parserOptions(options)).parse(xmlData);
}

/** 3.x `validate(xml, options)`: true, or `{ err: { code, msg, line, col } }`. */
function validate(xmlData, options) {
  return XMLValidator.validate(xmlData, options);
}

/** 3.x xmlNode: `{ tagname, parent, child: { name: [node] }, attrsMap, val }`. */
function XmlNode(tagname, parent, val) {
  this.tagname = tagname;
  this.parent = parent;
  this.child = {};
  this.attrsMap = {};
  this.val = val;
}
XmlNode.prototype.addChild = function addChild(child) {
  if (Array.isArray(this.child[child.tagname])) this.child[child.tagname].push(child);
  else this.child[child.tagname] = [child];
};

/** 3.x `getTraversalObj(xml, options)`: the element tree under a `!xml` root node. */
function getTraversalObj(xmlData, options) {
  const ordered = new XMLParser({
    ...parserOptions(options),
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
  }).parse(xmlData);
  const root = new XmlNode('!xml', null, undefined);
  const walk = (items, parent) => {
    for (const item of items) {
      for (const [name, value] of Object.entries(item)) {
        if (name === ':@') continue;
        if (name === '#text') {
          parent.val = parent.val === undefined ? value : `${parent.val}${value}`;
          continue;
        }
        const node = new XmlNode(name, parent, undefined);
        if (item[':@']) node.attrsMap = { ...item[':@'] };
        parent.addChild(node);
        if (Array.isArray(value)) walk(value, node);
      }
    }
  };
  walk(ordered, root);
  return root;
}

/** 3.x `new j2xParser(options).parse(object)`: an object as XML text. */
function j2xParser(options = {}) {
  const tagValueProcessor = options.tagValueProcessor || identity;
  const attrValueProcessor = options.attrValueProcessor || identity;
  this.builder = new XMLBuilder({
    attributeNamePrefix: options.attributeNamePrefix !== undefined ? options.attributeNamePrefix : '@_',
    attributesGroupName: options.attrNodeName || false,
    textNodeName: options.textNodeName || '#text',
    ignoreAttributes: options.ignoreAttributes !== undefined ? options.ignoreAttributes : true,
    cdataPropName: options.cdataTagName || false,
    format: Boolean(options.format),
    indentBy: options.indentBy !== undefined ? options.indentBy : '  ',
    suppressEmptyNode: Boolean(options.supressEmptyNode),
    suppressBooleanAttributes: false,
    processEntities: false,
    arrayNodeName: options.rootNodeName,
    tagValueProcessor: (_name, value) => tagValueProcessor(`${value}`),
    attributeValueProcessor: (_name, value) => attrValueProcessor(`${value}`),
  });
}
j2xParser.prototype.parse = function build(jObj) {
  return this.builder.build(jObj);
};

module.exports = { parse, validate, getTraversalObj, j2xParser };
