// Every string the console shows, in English, Russian and Armenian.
// `t('key', {n: 3})` fills `{n}`; `tOr('key', fallback)` is for names that
// come from the server (channels, states, KPI titles) and may be unknown.

export const LANGS = [
  ['en', 'English'],
  ['ru', 'Русский'],
  ['hy', 'Հայերեն'],
];

const LOCALES = { en: 'en-GB', ru: 'ru-RU', hy: 'hy-AM' };
const STORAGE_KEY = 'switchboard.console.lang';

// [en, ru, hy]
const D = {
  // Common
  'common.loading': ['Loading…', 'Загрузка…', 'Բեռնվում է…'],
  'common.no_data': ['No data yet', 'Данных пока нет', 'Տվյալներ դեռ չկան'],
  'common.back': ['Back', 'Назад', 'Հետ'],
  'common.dismiss': ['Dismiss', 'Скрыть', 'Փակել'],
  'common.language': ['Language', 'Язык', 'Լեզու'],
  'common.refresh': ['Refresh', 'Обновить', 'Թարմացնել'],
  'common.wait': ['Please wait…', 'Подождите…', 'Սպասեք…'],
  'error.network': ['The server cannot be reached', 'Сервер недоступен', 'Սերվերը հասանելի չէ'],

  // Header
  'nav.inbox': ['Inbox', 'Входящие', 'Մուտքային'],
  'nav.dashboard': ['Dashboard', 'Показатели', 'Ցուցանիշներ'],
  'nav.operator': ['Operator', 'Оператор', 'Օպերատոր'],
  'nav.logout': ['Sign out', 'Выйти', 'Ելք'],
  'nav.badge_title': ['Handoffs waiting for a person', 'Передачи, ждущие человека', 'Մարդու սպասող փոխանցումներ'],
  'role.agent': ['Agent', 'Сотрудник', 'Աշխատակից'],
  'role.admin': ['Admin', 'Администратор', 'Ադմինիստրատոր'],
  'role.operator': ['Operator', 'Оператор', 'Օպերատոր'],

  // Sign-in
  'login.title': ['Sign in to Switchboard', 'Вход в Switchboard', 'Մուտք Switchboard'],
  'login.hint': ['Use your staff account.', 'Войдите под учётной записью сотрудника.', 'Մուտք գործեք ձեր աշխատակցի հաշվով։'],
  'login.operator_hint': ['Operators sign in with the operator key.', 'Оператор входит по ключу оператора.', 'Օպերատորը մուտք է գործում օպերատորի բանալիով։'],
  'login.tenant': ['Organisation (tenant)', 'Организация', 'Կազմակերպություն'],
  'login.staff': ['Staff ID', 'ID сотрудника', 'Աշխատակցի ID'],
  'login.password': ['Password', 'Пароль', 'Գաղտնաբառ'],
  'login.operator_key': ['Operator key', 'Ключ оператора', 'Օպերատորի բանալի'],
  'login.submit': ['Sign in', 'Войти', 'Մուտք գործել'],
  'login.as_operator': ['Sign in with an operator key', 'Войти по ключу оператора', 'Մուտք օպերատորի բանալիով'],
  'login.as_staff': ['Sign in as staff', 'Войти как сотрудник', 'Մուտք աշխատակցի հաշվով'],
  'login.failed': ['Sign-in failed', 'Не удалось войти', 'Մուտքը չհաջողվեց'],
  'login.too_many': ['Too many attempts, wait {n} s', 'Слишком много попыток, подождите {n} с', 'Չափազանց շատ փորձեր, սպասեք {n} վրկ'],
  'login.link_invalid': [
    'This sign-in link has been used or has expired.',
    'Ссылка для входа уже использована или устарела.',
    'Մուտքի այս հղումն արդեն օգտագործվել է կամ ժամկետանց է։',
  ],

  // Inbox
  'inbox.title': ['Inbox', 'Входящие', 'Մուտքային'],
  'inbox.tab_waiting': ['Waiting for a person', 'Ждут человека', 'Սպասում են մարդու'],
  'inbox.tab_all': ['All conversations', 'Все диалоги', 'Բոլոր զրույցները'],
  'inbox.queue': ['Queue', 'Очередь', 'Հերթ'],
  'inbox.any_queue': ['All queues', 'Все очереди', 'Բոլոր հերթերը'],
  'inbox.assignee': ['Assignee', 'Ответственный', 'Պատասխանատու'],
  'inbox.anyone': ['Anyone', 'Любой', 'Ցանկացած'],
  'inbox.me': ['Me', 'Я', 'Ես'],
  'inbox.unassigned': ['Unassigned', 'Не назначен', 'Չնշանակված'],
  'inbox.channel': ['Channel', 'Канал', 'Ալիք'],
  'inbox.any_channel': ['All channels', 'Все каналы', 'Բոլոր ալիքները'],
  'inbox.priority': ['Priority', 'Приоритет', 'Առաջնահերթություն'],
  'inbox.any_priority': ['Any priority', 'Любой приоритет', 'Ցանկացած առաջնահերթություն'],
  'inbox.none_waiting': ['Nobody is waiting for a person.', 'Никто не ждёт человека.', 'Ոչ ոք մարդու չի սպասում։'],
  'inbox.none_all': ['No conversations yet.', 'Диалогов пока нет.', 'Զրույցներ դեռ չկան։'],
  'inbox.load_more': ['Load more', 'Показать ещё', 'Բեռնել ավելին'],
  'inbox.pick': ['Pick a conversation from the list.', 'Выберите диалог в списке.', 'Ընտրեք զրույց ցանկից։'],

  'status.bot': ['With the bot', 'У бота', 'Բոտի մոտ'],
  'status.human_waiting': ['Waiting for a person', 'Ждёт человека', 'Սպասում է մարդու'],
  'status.human_with': ['With {who}', 'Ведёт: {who}', 'Վարում է՝ {who}'],
  'status.ended': ['Ended: {state}', 'Завершён: {state}', 'Ավարտված է՝ {state}'],

  // Conversation
  'conv.not_found': ['No such conversation.', 'Такого диалога нет.', 'Այդպիսի զրույց չկա։'],
  'conv.take': ['Take', 'Взять', 'Վերցնել'],
  'conv.yours': ['Yours', 'Ваш', 'Ձերն է'],
  'conv.taken': ['The conversation is yours.', 'Диалог теперь ваш.', 'Զրույցն այժմ ձերն է։'],
  'conv.assign': ['Assign', 'Назначить', 'Նշանակել'],
  'conv.nobody': ['— nobody —', '— никому —', '— ոչ ոքի —'],
  'conv.assigned_to': ['Assigned to {who}.', 'Назначено: {who}.', 'Նշանակված է՝ {who}։'],
  'conv.unassigned': ['Nobody is assigned now.', 'Назначение снято.', 'Նշանակումը հանված է։'],
  'conv.hand_back': ['Hand back to the bot', 'Вернуть боту', 'Վերադարձնել բոտին'],
  'conv.handed_back': ['Handed back to the bot.', 'Возвращено боту.', 'Վերադարձված է բոտին։'],
  'conv.close_reason': ['Reason for closing', 'Причина закрытия', 'Փակման պատճառը'],
  'conv.close': ['Close', 'Закрыть', 'Փակել'],
  'conv.closed': ['The conversation is closed.', 'Диалог закрыт.', 'Զրույցը փակված է։'],
  'conv.transcript': ['Transcript', 'Переписка', 'Նամակագրություն'],
  'conv.no_messages': ['No messages yet.', 'Сообщений пока нет.', 'Հաղորդագրություններ դեռ չկան։'],
  'conv.reply': ['Reply', 'Ответ', 'Պատասխան'],
  'conv.reply_placeholder': ['Write a reply… (Ctrl+Enter sends)', 'Напишите ответ… (Ctrl+Enter — отправить)', 'Գրեք պատասխանը… (Ctrl+Enter՝ ուղարկել)'],
  'conv.send': ['Send', 'Отправить', 'Ուղարկել'],
  'conv.sent': ['Sent.', 'Отправлено.', 'Ուղարկված է։'],
  'conv.refused': ['The message was not sent: {reason}', 'Сообщение не отправлено: {reason}', 'Հաղորդագրությունը չի ուղարկվել՝ {reason}'],
  'conv.details': ['Details', 'Подробности', 'Մանրամասներ'],
  'conv.contact': ['Contact', 'Контакт', 'Կոնտակտ'],
  'conv.locale': ['Language', 'Язык', 'Լեզու'],
  'conv.intent': ['Intent', 'Намерение', 'Մտադրություն'],
  'conv.score': ['Score and tier', 'Оценка и уровень', 'Միավոր և կարգ'],
  'conv.score_n': ['Score {n}', 'Оценка {n}', 'Միավոր՝ {n}'],
  'conv.route': ['Route', 'Маршрут', 'Երթուղի'],
  'conv.backup': ['backup', 'замена', 'փոխարինող'],
  'conv.priority': ['Priority', 'Приоритет', 'Առաջնահերթություն'],
  'conv.flow': ['Flow version', 'Версия сценария', 'Սցենարի տարբերակ'],
  'conv.started': ['Started', 'Начат', 'Սկսվել է'],
  'conv.last_customer': ['Customer last wrote', 'Клиент писал последний раз', 'Հաճախորդը վերջին անգամ գրել է'],
  'conv.fields': ['Collected fields', 'Собранные поля', 'Հավաքված դաշտեր'],
  'conv.no_fields': ['Nothing collected yet.', 'Пока ничего не собрано.', 'Դեռ ոչինչ չի հավաքվել։'],
  'conv.skipped': ['Skipped', 'Пропущены', 'Բաց թողնված'],
  'conv.timers': ['Timers', 'Таймеры', 'Ժամաչափեր'],
  'conv.no_timers': ['No pending timers.', 'Активных таймеров нет.', 'Սպասող ժամաչափեր չկան։'],
  'conv.pins': ['Plugin versions', 'Версии плагинов', 'Պլագինների տարբերակներ'],
  'conv.no_pins': ['No plugin versions pinned.', 'Версии плагинов не закреплены.', 'Պլագինների տարբերակներ ամրագրված չեն։'],
  'conv.events': ['Events ({n})', 'События ({n})', 'Իրադարձություններ ({n})'],

  'card.title': ['Handoff', 'Передача человеку', 'Փոխանցում մարդուն'],
  'card.next': ['Suggested next step', 'Следующий шаг', 'Առաջարկվող հաջորդ քայլը'],
  'card.contact': ['Contact', 'Контакт', 'Կոնտակտ'],
  'card.channel': ['Channel', 'Канал', 'Ալիք'],
  'card.intent': ['Intent', 'Намерение', 'Մտադրություն'],
  'card.queue': ['Queue', 'Очередь', 'Հերթ'],
  'card.reason': ['Reason', 'Причина', 'Պատճառ'],

  'approval.title': ['Approval requested', 'Запрошено согласование', 'Պահանջվում է հաստատում'],
  'approval.approver': ['Approver: {who}', 'Согласующий: {who}', 'Հաստատող՝ {who}'],
  'approval.backup': ['backup: {who}', 'замена: {who}', 'փոխարինող՝ {who}'],
  'approval.no_approver': ['No approver named', 'Согласующий не указан', 'Հաստատողը նշված չէ'],
  'approval.note': ['Note (optional)', 'Комментарий (необязательно)', 'Նշում (ըստ ցանկության)'],
  'approval.approve': ['Approve', 'Одобрить', 'Հաստատել'],
  'approval.reject': ['Reject', 'Отклонить', 'Մերժել'],
  'approval.approved': ['Approved.', 'Одобрено.', 'Հաստատված է։'],
  'approval.rejected': ['Rejected.', 'Отклонено.', 'Մերժված է։'],

  'tr.customer': ['Customer', 'Клиент', 'Հաճախորդ'],
  'tr.bot': ['Bot', 'Бот', 'Բոտ'],
  'tr.agent': ['Agent', 'Сотрудник', 'Աշխատակից'],
  'tr.refused': ['Not sent: {reason}', 'Не отправлено: {reason}', 'Չի ուղարկվել՝ {reason}'],
  'tr.handoff': ['Handed to a person: {reason}', 'Передано человеку: {reason}', 'Փոխանցվել է մարդու՝ {reason}'],
  'tr.returned': ['Handed back to the bot', 'Возвращено боту', 'Վերադարձվել է բոտին'],
  'tr.assigned': ['Assigned to {who}', 'Назначено: {who}', 'Նշանակվել է՝ {who}'],
  'tr.unassigned': ['Assignment removed', 'Назначение снято', 'Նշանակումը հանվել է'],
  'tr.closed': ['Closed: {state}', 'Закрыт: {state}', 'Փակվել է՝ {state}'],
  'tr.decided': ['Decision: {decision}', 'Решение: {decision}', 'Որոշում՝ {decision}'],

  'window.open': ['The messaging window is open.', 'Окно для ответа открыто.', 'Պատասխանի պատուհանը բաց է։'],
  'window.open_until': ['Window open until {time}', 'Окно открыто до {time}', 'Պատուհանը բաց է մինչև {time}'],
  'window.closed': [
    'The 24 h window has closed: only a template can be sent.',
    '24-часовое окно закрылось: можно отправить только шаблон.',
    '24-ժամյա պատուհանը փակվել է։ Այժմ կարելի է ուղարկել միայն ձևանմուշ։',
  ],
  'window.how': [
    'Write the message, then pick the template it goes out through.',
    'Напишите сообщение и выберите шаблон, через который его отправить.',
    'Գրեք հաղորդագրությունը, ապա ընտրեք ձևանմուշը, որով այն կուղարկվի։',
  ],
  'window.closed_placeholder': ['The message to send through a template…', 'Сообщение для отправки через шаблон…', 'Ձևանմուշով ուղարկվող հաղորդագրությունը…'],
  'window.no_templates': ['No templates are set up.', 'Шаблоны не настроены.', 'Ձևանմուշներ կարգավորված չեն։'],

  'timer.cancel': ['Cancel', 'Отменить', 'Չեղարկել'],
  'timer.cancelled': ['Timer cancelled.', 'Таймер отменён.', 'Ժամաչափը չեղարկված է։'],
  'timer.move': ['Move to another time', 'Перенести на другое время', 'Տեղափոխել այլ ժամի'],
  'timer.moved': ['Timer moved.', 'Таймер перенесён.', 'Ժամաչափը տեղափոխված է։'],
  'timer.cancel_on_reply': ['cancelled if the customer writes', 'отменится, если клиент напишет', 'կչեղարկվի, եթե հաճախորդը գրի'],

  'link.title': ['Link identity', 'Связать контакт', 'Կապել նույնականացումը'],
  'link.hint': [
    'Another channel of the same customer, e.g. telegram:42.',
    'Другой канал того же клиента, например telegram:42.',
    'Նույն հաճախորդի մեկ այլ ալիք, օրինակ՝ telegram:42։',
  ],
  'link.submit': ['Link', 'Связать', 'Կապել'],
  'link.done': ['Linked: {identity}', 'Связано: {identity}', 'Կապված է՝ {identity}'],

  'close.resolved': ['Resolved', 'Решён', 'Լուծված է'],
  'close.spam': ['Spam', 'Спам', 'Սպամ'],
  'close.duplicate': ['Duplicate', 'Дубликат', 'Կրկնօրինակ'],
  'close.no_answer': ['No answer', 'Нет ответа', 'Պատասխան չկա'],
  'close.other': ['Other', 'Другое', 'Այլ'],

  // Names the server sends
  'channel.webchat': ['Web chat', 'Веб-чат', 'Վեբ-չատ'],
  'channel.whatsapp': ['WhatsApp', 'WhatsApp', 'WhatsApp'],
  'channel.telegram': ['Telegram', 'Telegram', 'Telegram'],
  'channel.messenger': ['Messenger', 'Messenger', 'Messenger'],
  'channel.instagram': ['Instagram', 'Instagram', 'Instagram'],
  'channel.internal': ['Staff chat', 'Внутренний чат', 'Ներքին չատ'],
  'priority.urgent': ['Urgent', 'Срочно', 'Շտապ'],
  'priority.high': ['High', 'Высокий', 'Բարձր'],
  'priority.normal': ['Normal', 'Обычный', 'Սովորական'],
  'priority.low': ['Low', 'Низкий', 'Ցածր'],
  'tier.hot': ['hot', 'горячий', 'թեժ'],
  'tier.warm': ['warm', 'тёплый', 'տաք'],
  'tier.cold': ['cold', 'холодный', 'սառը'],
  'state.resolved': ['Resolved', 'Решён', 'Լուծված'],
  'state.booked': ['Booked', 'Запись создана', 'Ամրագրված'],
  'state.quoted': ['Quoted', 'Расчёт отправлен', 'Գնառաջարկն ուղարկված է'],
  'state.closed': ['Closed', 'Закрыт', 'Փակված'],
  'state.cancelled': ['Cancelled', 'Отменён', 'Չեղարկված'],
  'state.approved': ['Approved', 'Одобрен', 'Հաստատված'],
  'state.rejected': ['Rejected', 'Отклонён', 'Մերժված'],
  'state.spam': ['Spam', 'Спам', 'Սպամ'],
  'state.duplicate': ['Duplicate', 'Дубликат', 'Կրկնօրինակ'],
  'state.no_answer': ['No answer', 'Нет ответа', 'Պատասխան չկա'],
  'state.other': ['Other', 'Другое', 'Այլ'],
  'decision.approve': ['approved', 'одобрено', 'հաստատված'],
  'decision.approved': ['approved', 'одобрено', 'հաստատված'],
  'decision.reject': ['rejected', 'отклонено', 'մերժված'],
  'decision.rejected': ['rejected', 'отклонено', 'մերժված'],
  'decision.true': ['approved', 'одобрено', 'հաստատված'],
  'decision.false': ['rejected', 'отклонено', 'մերժված'],
  'cause.asked': ['Customer asked for a person', 'Клиент попросил человека', 'Հաճախորդը խնդրել է մարդ'],
  'cause.negative': ['Negative mood', 'Негатив', 'Բացասական տրամադրություն'],
  'cause.hot_lead': ['Hot lead', 'Горячий лид', 'Թեժ լիդ'],
  'cause.policy': ['Policy', 'Правило', 'Կանոն'],
  'cause.invalid_answers': ['Invalid answers', 'Неверные ответы', 'Սխալ պատասխաններ'],
  'cause.step_failed': ['A step failed', 'Сбой шага', 'Քայլի ձախողում'],
  'cause.plugin': ['A plugin asked', 'По решению плагина', 'Պլագինի որոշմամբ'],

  // Dashboard
  'dash.span': ['Period', 'Период', 'Ժամանակահատված'],
  'dash.last_n': ['Last {n} days', 'Последние {n} дней', 'Վերջին {n} օրը'],
  'dash.custom': ['Choose dates', 'Выбрать даты', 'Ընտրել ամսաթվերը'],
  'dash.from': ['From', 'С', 'Սկսած'],
  'dash.to': ['To', 'По', 'Մինչև'],
  'dash.granularity': ['Step', 'Шаг', 'Քայլ'],
  'dash.day': ['By day', 'По дням', 'Ըստ օրերի'],
  'dash.week': ['By week', 'По неделям', 'Ըստ շաբաթների'],
  'dash.intent': ['Intent', 'Намерение', 'Մտադրություն'],
  'dash.any_intent': ['All intents', 'Все намерения', 'Բոլոր մտադրությունները'],
  'dash.scenario_n': ['Scenario {n}', 'Сценарий {n}', 'Սցենար {n}'],
  'dash.p90': ['90th percentile: {v}', '90-й процентиль: {v}', '90-րդ պերցենտիլ՝ {v}'],
  'dash.standards': ['Channel standards', 'Нормативы каналов', 'Ալիքների ստանդարտներ'],
  'dash.standard_is': ['Standard: {v}', 'Норматив: {v}', 'Ստանդարտ՝ {v}'],
  'dash.funnels': ['Funnels', 'Воронки', 'Ձագարներ'],
  'dash.terminal_states': ['How conversations ended', 'Чем завершились диалоги', 'Ինչպես են ավարտվել զրույցները'],
  'dash.handoff_reasons': ['Why conversations went to a person', 'Почему диалоги передали человеку', 'Ինչու են զրույցները փոխանցվել մարդու'],
  'dash.failures_by_version': ['Plugin failures by version', 'Сбои плагинов по версиям', 'Պլագինների ձախողումներ՝ ըստ տարբերակի'],
  'dash.failures_by_code': ['Plugin failures by code', 'Сбои плагинов по кодам', 'Պլագինների ձախողումներ՝ ըստ կոդի'],
  'dash.churn': ['Churn reasons', 'Причины отказа от подписки', 'Բաժանորդագրությունից հրաժարվելու պատճառները'],
  'step.started': ['Started', 'Начато', 'Սկսված'],
  'step.quote': ['Quote', 'Расчёт', 'Գնառաջարկ'],
  'step.offer': ['Offer', 'Предложение', 'Առաջարկ'],
  'step.decision': ['Decision', 'Решение', 'Որոշում'],
  'step.closed': ['Closed', 'Закрыто', 'Փակված'],
  'scenario.0': ['Channel standards', 'Нормативы каналов', 'Ալիքների ստանդարտներ'],
  'scenario.1': ['Lead qualification', 'Квалификация лидов', 'Լիդերի որակավորում'],
  'scenario.2': ['Bookings', 'Записи', 'Ամրագրումներ'],
  'scenario.3': ['Quotes and payments', 'Расчёты и оплаты', 'Գնառաջարկներ և վճարումներ'],
  'scenario.4': ['Order support', 'Поддержка по заказам', 'Պատվերների աջակցություն'],
  'scenario.5': ['Returns and refunds', 'Возвраты', 'Վերադարձներ և փոխհատուցումներ'],
  'scenario.6': ['Renewals', 'Продления подписок', 'Բաժանորդագրությունների երկարաձգում'],
  'scenario.7': ['Help desk', 'Служба поддержки', 'Աջակցության ծառայություն'],
  'scenario.8': ['Reactivation and pipeline', 'Возврат клиентов и продажи', 'Հաճախորդների վերադարձ և վաճառքներ'],
  'scenario.9': ['Internal approvals', 'Внутренние согласования', 'Ներքին հաստատումներ'],
  'unit.ms': ['ms', 'мс', 'մվրկ'],
  'unit.s': ['s', 'с', 'վրկ'],
  'unit.min': ['min', 'мин', 'ր'],
  'unit.h': ['h', 'ч', 'ժ'],
  'unit.d': ['d', 'дн', 'օր'],
  'unit.per_day': ['/ day', '/ день', '/ օր'],

  // Operator
  'op.title': ['Operator overview', 'Обзор для оператора', 'Օպերատորի ակնարկ'],
  'op.health': ['Health', 'Состояние', 'Վիճակ'],
  'op.ready': ['Ready', 'Готов', 'Պատրաստ է'],
  'op.not_ready': ['Not ready', 'Не готов', 'Պատրաստ չէ'],
  'op.store': ['Store', 'Хранилище', 'Պահոց'],
  'op.readiness': ['Readiness check', 'Проверка готовности', 'Պատրաստության ստուգում'],
  'op.runs': ['Step runs today', 'Запуски шагов за сегодня', 'Քայլերի կատարումներ այսօր'],
  'op.shadow': ['shadow', 'теневой режим', 'ստվերային ռեժիմ'],
  'op.metrics': ['Metrics', 'Метрики', 'Չափումներ'],
  'op.tenants': ['Tenants', 'Организации', 'Կազմակերպություններ'],
  'op.no_tenants': ['No tenants.', 'Организаций нет.', 'Կազմակերպություններ չկան։'],
  'op.tenant': ['Tenant', 'Организация', 'Կազմակերպություն'],
  'op.status': ['Status', 'Статус', 'Կարգավիճակ'],
  'op.status_serving': ['Serving', 'Работает', 'Աշխատում է'],
  'op.status_loading': ['Loading', 'Загружается', 'Բեռնվում է'],
  'op.status_failed': ['Failed', 'Сбой', 'Ձախողվել է'],
  'op.events': ['Events today', 'События за сегодня', 'Իրադարձություններ այսօր'],
  'op.conversations': ['Conversations today', 'Диалоги за сегодня', 'Զրույցներ այսօր'],
  'op.handoffs': ['Handoffs today', 'Передачи за сегодня', 'Փոխանցումներ այսօր'],
  'op.failures': ['Step failures today', 'Сбои шагов за сегодня', 'Քայլերի ձախողումներ այսօր'],
  'op.error_rate': ['Error rate', 'Доля ошибок', 'Սխալների մասնաբաժին'],
  'op.flow': ['Flow version', 'Версия сценария', 'Սցենարի տարբերակ'],
  'op.plugins': ['Plugins', 'Плагины', 'Պլագիններ'],
  'op.canary': ['canary', 'канарейка', 'փորձնական'],

  // KPI titles: English comes from the server's definitions.
  'kpi.first_response_time': [null, 'Время первого ответа', 'Առաջին պատասխանի ժամանակը'],
  'kpi.first_response_in_standard': [null, 'Первые ответы в пределах норматива', 'Առաջին պատասխաններ՝ ստանդարտի սահմաններում'],
  'kpi.human_response_time': [null, 'Ответ человека после передачи', 'Մարդու պատասխանը փոխանցումից հետո'],
  'kpi.human_response_in_standard': [null, 'Ответы людей в пределах норматива', 'Մարդկանց պատասխաններ՝ ստանդարտի սահմաններում'],
  'kpi.qualified_lead_share': [null, 'Квалифицированные лиды', 'Որակավորված լիդեր'],
  'kpi.lead_to_meeting': [null, 'Конверсия лидов во встречи', 'Լիդերից հանդիպումների փոխարկում'],
  'kpi.handoff_rate': [null, 'Доля передач человеку', 'Մարդուն փոխանցումների մասնաբաժին'],
  'kpi.booking_conversion': [null, 'Конверсия в запись', 'Ամրագրման փոխարկում'],
  'kpi.messages_to_booking': [null, 'Сообщений до записи', 'Հաղորդագրություններ մինչև ամրագրում'],
  'kpi.no_show_rate': [null, 'Доля неявок', 'Չներկայացածների մասնաբաժին'],
  'kpi.time_to_quote': [null, 'Время до расчёта', 'Ժամանակ մինչև գնառաջարկ'],
  'kpi.quote_to_payment': [null, 'Конверсия расчёта в оплату', 'Գնառաջարկից վճարման փոխարկում'],
  'kpi.quotes_needing_human': [null, 'Расчёты, где понадобился человек', 'Մարդու մասնակցություն պահանջած գնառաջարկներ'],
  'kpi.resolved_without_human': [null, 'Решено без человека', 'Լուծված առանց մարդու'],
  'kpi.repeat_contacts_per_order': [null, 'Обращений на заказ', 'Դիմումներ մեկ պատվերի համար'],
  'kpi.csat': [null, 'Удовлетворённость (CSAT)', 'Գոհունակություն (CSAT)'],
  'kpi.time_to_rma': [null, 'Время до оформления возврата (RMA)', 'Ժամանակ մինչև վերադարձի ձևակերպում (RMA)'],
  'kpi.refund_cycle_time': [null, 'Срок возврата денег', 'Գումարի վերադարձի ժամկետը'],
  'kpi.disputed_share': [null, 'Оспоренные платежи', 'Վիճարկված վճարումներ'],
  'kpi.renewal_rate': [null, 'Доля продлений', 'Երկարաձգումների մասնաբաժին'],
  'kpi.revenue_recovered': [null, 'Выручка, спасённая после неудачных платежей', 'Չհաջողված վճարումներից հետո վերականգնված եկամուտ'],
  'kpi.first_contact_resolution': [null, 'Решение с первого обращения', 'Լուծում առաջին դիմումից'],
  'kpi.resolution_time': [null, 'Время решения', 'Լուծման ժամանակը'],
  'kpi.ticket_volume': [null, 'Число обращений', 'Դիմումների քանակը'],
  'kpi.reopen_rate': [null, 'Доля повторных обращений', 'Վերաբացումների մասնաբաժին'],
  'kpi.reactivation_rate': [null, 'Доля вернувшихся клиентов', 'Վերադարձած հաճախորդների մասնաբաժին'],
  'kpi.pipeline_velocity': [null, 'Скорость воронки продаж', 'Վաճառքի ձագարի արագությունը'],
  'kpi.approval_time': [null, 'Время согласования', 'Հաստատման ժամանակը'],
  'kpi.escalations': [null, 'Эскалации', 'Էսկալացիաներ'],
  'kpi.complete_request_share': [null, 'Полные заявки', 'Ամբողջական հայտեր'],
};

const INDEX = { en: 0, ru: 1, hy: 2 };
let lang = 'en';

export function initialLang() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored && stored in INDEX) return stored;
  } catch {
    // No storage (private mode): fall through.
  }
  const browser = (typeof navigator !== 'undefined' && navigator.language ? navigator.language : '').toLowerCase();
  if (browser.startsWith('ru')) return 'ru';
  if (browser.startsWith('hy')) return 'hy';
  return 'en';
}

export function storeLang(next) {
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered, still used.
  }
}

/** Make `next` the language every `t` call uses from now on. */
export function applyLang(next) {
  lang = next in INDEX ? next : 'en';
  if (typeof document !== 'undefined' && document.documentElement.lang !== lang) document.documentElement.lang = lang;
}

export const currentLang = () => lang;
export const locale = () => LOCALES[lang];

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function t(key, params) {
  const entry = D[key];
  if (!entry) return key;
  return fill(entry[INDEX[lang]] ?? entry[0] ?? key, params);
}

/** Like `t`, but `fallback` for a key (or a language) the dictionary lacks. */
export function tOr(key, fallback, params) {
  const entry = D[key];
  const text = entry ? entry[INDEX[lang]] : null;
  return text == null ? fallback : fill(text, params);
}

/** For a check that every language has every string. */
export const dictionary = D;
