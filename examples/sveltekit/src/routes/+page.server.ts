import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals }) => ({
  count: locals.session.get('count', 0),
  notice: locals.session.get('notice') ?? null, // a flash: shown once
});

export const actions: Actions = {
  default: ({ locals }) => {
    const count = locals.session.get('count', 0) + 1;
    locals.session.set('count', count);
    locals.session.flash('notice', `Counted to ${count}.`);
    redirect(303, '/');
  },
};
