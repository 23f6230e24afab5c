// The lesson of /learn: why sessions matter, and six practice questions, for sessionkit in TypeScript.

export interface Question {
  id: number;
  prompt: string;
  code?: string;
  /** The choices are code, shown in a code font. */
  codeChoices?: boolean;
  choices: Record<string, string>;
  answer: string;
  steps: string[];
  mistakes: string[];
}

export const lesson = {
  title: 'Why sessions matter',
  problem:
    'HTTP forgets. Every request reaches the server on its own, so without help a site cannot tell ' +
    'that the visitor opening the cart is the one who just logged in: you would sign in on every page, ' +
    'and your cart would empty itself as you browse.',
  idea:
    'A session fixes that. The first time a site has something to remember, it gives your browser a ' +
    'cookie holding only a long random key. The browser sends the key back with every request, and the ' +
    'server keeps the data itself (who you are, your cart, your favorite color) under that key.',
  before: "// anyone can type ?user=john\nif (req.query.user === 'john') showWelcome(); else askLogin();",
  after: "// only the server sets it, after checking a password\nif (req.session.get('user') === 'john') showWelcome(); else askLogin();",
  takeaways: [
    'Sessions remember a visitor’s data from one request to the next.',
    'They spare visitors repeated logins and lost carts.',
    'The browser holds only a random key; the data stays on the server.',
  ],
};

export const questions: Question[] = [
  {
    id: 1,
    prompt: 'What are sessions for in a web application?',
    choices: {
      a: 'They make pages load faster.',
      b: 'They fix bugs in your code automatically.',
      c: 'They change the design of the site for each visitor.',
      d: 'They let the site remember a visitor’s data between requests.',
    },
    answer: 'd',
    steps: [
      'Each HTTP request arrives on its own; the server keeps no memory of earlier ones.',
      'A session keeps data such as the login, the cart or preferences on the server, under a key the browser sends back, so the site remembers the visitor.',
    ],
    mistakes: ['Thinking sessions speed up loading', 'Believing sessions fix code bugs', 'Confusing sessions with design changes'],
  },
  {
    id: 2,
    prompt: "In an Express app using sessionkit, how do you store 'Alice' under the key user?",
    codeChoices: true,
    choices: {
      a: "req.session.set('user', 'Alice')",
      b: "req.setSession('user', 'Alice')",
      c: "req.session.user = 'Alice'",
      d: "session.user = 'Alice' // no request needed",
    },
    answer: 'a',
    steps: [
      'The middleware gives every request its session as req.session.',
      "Values are written with set(key, value), so req.session.set('user', 'Alice') stores it; the session is saved before the response leaves.",
    ],
    mistakes: [
      'Assigning a property as in express-session: sessionkit stores nothing that way',
      'Inventing a method on the request such as req.setSession',
      'Trying to reach the session without the request',
    ],
  },
  {
    id: 3,
    prompt: 'What does this route answer the first time a new visitor opens it?',
    code: [
      "app.get('/count', (req, res) => {",
      "  const count = req.session.get('count', 0) + 1;",
      "  req.session.set('count', count);",
      "  res.type('text/plain').send(`Count: ${count}`);",
      '});',
    ].join('\n'),
    choices: { a: 'Count: 0', b: 'Count: 1', c: 'Count: undefined', d: 'An error, because the visitor has no session yet' },
    answer: 'b',
    steps: [
      "A new visitor has nothing stored, so get('count', 0) returns the fallback 0.",
      'The route adds 1 and stores it, so the first answer is Count: 1 (then 2, 3, ...).',
    ],
    mistakes: [
      'Expecting Count: 0 and forgetting the + 1',
      'Expecting undefined: the second argument of get is the fallback',
      'Thinking a session must be created by hand first',
    ],
  },
  {
    id: 4,
    prompt: 'What happens here?',
    code: ["req.session.set('user', 'Bob');", "req.session.delete('user');", "res.send(req.session.require('user'));"].join('\n'),
    choices: {
      a: "require throws a SessionKeyError, because 'user' was deleted",
      b: 'It sends Bob',
      c: 'It sends an empty page',
      d: 'It does not compile: sessions have no delete method',
    },
    answer: 'a',
    steps: [
      "delete('user') removes the key from the session.",
      "require('user') demands the key and throws SessionKeyError when it is absent (Django raises KeyError). Use get('user') when the value is optional.",
    ],
    mistakes: [
      'Thinking the delete call is wrong',
      'Assuming session keys cannot be deleted',
      'Forgetting that require throws on a missing key',
    ],
  },
  {
    id: 5,
    prompt: 'Which lines complete the two routes, saving the color in one and showing it in the other?',
    code: [
      "app.get('/color/set', (req, res) => {",
      '  const color = req.query.color;',
      "  if (typeof color === 'string') /* 1: save color */;",
      "  res.type('text/plain').send('Color saved');",
      '});',
      "app.get('/color', (req, res) => {",
      '  const color = /* 2: read it, or "unknown" */;',
      "  res.type('text/plain').send(`Favorite color: ${color}`);",
      '});',
    ].join('\n'),
    codeChoices: true,
    choices: {
      a: "1: req.session.color = color   2: req.session.color ?? 'unknown'",
      b: "1: req.session.save('color', color)   2: req.session.load('color')",
      c: "1: req.session.set('color', color)   2: req.session.get('color', 'unknown')",
      d: "1: res.cookie('color', color)   2: req.cookies.color",
    },
    answer: 'c',
    steps: [
      "Save with set: req.session.set('color', color).",
      "Read with a fallback so a new visitor gets a value: req.session.get('color', 'unknown').",
    ],
    mistakes: [
      'Using property syntax, which stores nothing',
      'Calling methods a session does not have (save, load)',
      'Putting the data itself in a cookie, where the browser can read and change it',
    ],
  },
  {
    id: 6,
    prompt: 'Why does the session key change when a visitor signs in?',
    code: [
      "app.post('/login', async (req, res) => {",
      '  const userId = checkPassword(req.body.username, req.body.password);',
      '  if (userId === null) return res.status(401).send(loginForm());',
      '  await req.session.login(userId); // a new key, the same data, bound to the user',
      "  res.redirect(303, '/');",
      '});',
    ].join('\n'),
    choices: {
      a: 'So that the cart is emptied at login',
      b: 'So that a key someone else knew or planted before the login is worthless once the visitor is signed in',
      c: 'Because a cookie can only be set once, so the old one cannot be reused',
      d: 'To sign the visitor out of their other devices',
    },
    answer: 'b',
    steps: [
      'Before the login the key may be known to someone else: an attacker can plant a key of their own in the victim’s browser, or read it on a shared computer (session fixation).',
      'After the login that key would open a signed-in session, so login (as cycleKey does) moves the data, the cart too, under a new random key and deletes the old record: the old key now loads nothing.',
    ],
    mistakes: [
      'Thinking the data is lost: login keeps every value, under the new key',
      'Confusing a new key with signing out elsewhere: other devices keep their own keys',
      'Believing cookies cannot be overwritten',
    ],
  },
];

/** The question with this id, or undefined. */
export function findQuestion(id: string): Question | undefined {
  return questions.find((q) => String(q.id) === id);
}

/** Every choice made for each question, first try first (sessions of older demos held one string). */
export type Answers = Record<string, string[] | string>;

/** The choices made for question `id`, in order; empty when unanswered. */
export function triesOf(answers: Answers, id: number): string[] {
  if (!Object.hasOwn(answers, id)) return [];
  const tries = answers[id];
  return typeof tries === 'string' ? [tries] : Array.isArray(tries) ? tries : [];
}

/** Adds a try; repeating the latest choice changes nothing. Keeps the first try and the latest few. */
export function withTry(answers: Answers, q: Question, choice: string): Answers {
  const tries = triesOf(answers, q.id);
  if (tries.at(-1) === choice) return answers;
  const next = [...tries, choice];
  return { ...answers, [q.id]: next.length > 5 ? [next[0]!, ...next.slice(-4)] : next };
}

/**
 * The learn.json shape. `correct`: right at the first try, the only answer that counts toward the
 * score; `solved`: the latest try is right.
 */
export function progress(answers: Answers) {
  const list = questions.map((q) => {
    const tries = triesOf(answers, q.id);
    return { id: q.id, answered: tries.length > 0, correct: tries[0] === q.answer, solved: tries.at(-1) === q.answer };
  });
  return {
    answered: list.filter((q) => q.answered).length,
    correct: list.filter((q) => q.correct).length,
    total: questions.length,
    questions: list,
  };
}
