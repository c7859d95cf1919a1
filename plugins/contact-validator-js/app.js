// The contact validator as a Switchboard step: checks the latest message as
// the field named in the tenant's config, then either stores the normalised
// value or explains the problem and asks again.
import { config, setField, text, datetime, reply, ask, invalidConfig, invalidInput } from 'switchboard';
import { phone, email, date } from './validate.js';

const MESSAGES = {
  'phone-characters': {
    en: 'That does not look like a phone number. Please send digits only, e.g. +374 99 123456.',
    ru: 'Похоже, это не номер телефона. Пришлите только цифры, например +374 99 123456.',
    hy: 'Սա հեռախոսահամարի նման չէ։ Խնդրում ենք ուղարկել միայն թվեր, օրինակ՝ +374 99 123456։',
  },
  'phone-length': {
    en: 'The number seems too short or too long. Please include the country code.',
    ru: 'Номер слишком короткий или длинный. Укажите его с кодом страны.',
    hy: 'Համարը շատ կարճ է կամ երկար։ Խնդրում ենք նշել երկրի կոդով։',
  },
  email: {
    en: 'Please check the email address, e.g. name@example.com.',
    ru: 'Проверьте адрес почты, например name@example.com.',
    hy: 'Խնդրում ենք ստուգել էլ. հասցեն, օրինակ՝ name@example.com։',
  },
  'date-format': {
    en: 'Please send a date like 25.12.2026, or say "tomorrow".',
    ru: 'Пришлите дату в виде 25.12.2026 или напишите «завтра».',
    hy: 'Խնդրում ենք ուղարկել ամսաթիվ, օրինակ՝ 25.12.2026, կամ գրել «վաղը»։',
  },
  'date-invalid': {
    en: 'That date does not exist. Please check the day and month.',
    ru: 'Такой даты нет. Проверьте день и месяц.',
    hy: 'Այդպիսի ամսաթիվ չկա։ Ստուգեք օրը և ամիսը։',
  },
  'date-past': {
    en: 'That date has already passed. Which day would suit you?',
    ru: 'Эта дата уже прошла. Какой день вам удобен?',
    hy: 'Այդ ամսաթիվն արդեն անցել է։ Ո՞ր օրն է ձեզ հարմար։',
  },
};

export const handler = {
  run(input) {
    const settings = config(input);
    const fieldName = settings.field;
    if (!fieldName || !['phone', 'email', 'date'].includes(settings.kind)) {
      throw invalidConfig('config needs "field" and "kind" (phone, email or date)');
    }
    if (!input.message) throw invalidInput('the validator runs on a customer message');
    const answer = input.message.text;
    let result;
    if (settings.kind === 'phone') result = phone(answer, { defaultCountryCode: settings.default_country_code ?? '' });
    else if (settings.kind === 'email') result = email(answer);
    else result = date(answer, { now: Number(input.now), utcOffsetMinutes: settings.utc_offset_minutes ?? 0 });

    if (result.ok) {
      const value = settings.kind === 'date' ? datetime(result.value) : text(result.value);
      return [setField(fieldName, value)];
    }
    const locale = input.contact.locale.split('-')[0];
    const messages = MESSAGES[result.reason];
    return [reply(messages[locale] ?? messages.en), ask(fieldName, undefined)];
  },
};
